"""Deviant modes: answers that break the contract, one mode per deviation, for testing clients.

A real server (or a proxy in front of it) can answer in ways CONTRACT.md does not allow; a client
must meet each with a clear error, in bounded time, without leaking its token. Each mode is a fault
rule of kind ``deviant`` (``--fault deviant:mode=html_body``, ``{"kind": "deviant", "mode": …}`` on
``POST /__sandbox/faults``, ``SandboxApp.set_deviant("html_body")``), so it can be scoped by method,
route, count and rate like any fault. A mode applies only to the requests listed for it; the rule's
count is spent when the mode is chosen for a request (even if that request then fails with a 4xx).

| mode | requests | the answer |
|---|---|---|
| ``item_without_id`` | GET of a list | list items have no ``id`` |
| ``item_id_string`` | GET of a list | list items have ``"id": "x"`` |
| ``item_id_null`` | GET of a list | list items have ``"id": null`` |
| ``item_not_object`` | GET of a list | list items are strings (each item's name), not objects |
| ``empty_body`` | any | the status as usual (200, 201), an empty body |
| ``list_for_object`` | any | a JSON list: a list answer's bare items, otherwise ``[object]`` |
| ``html_body`` | any | the status as usual, an HTML page (``Content-Type: text/html``) |
| ``create_204`` | POST of a create | the object is created, the answer is 204 with no body |
| ``create_empty_object`` | POST of a create | the object is created, the answer is 201 ``{}`` |
| ``redirect`` | any | 302 to ``/moved`` + the path, nothing done |
| ``ignore_page`` | GET of a list | ``page`` is ignored: always the first page |
| ``endless_pages`` | GET of a list | every page is full (``per_page`` items), with fresh ids, forever |
| ``trickle_body`` | any | the body one byte at a time, ``ms`` apart (default 200 ms) |
| ``echo_authorization`` | any | 400 whose message quotes the request's Authorization header |

``ignore_page`` gives a full page only when the list has at least ``per_page`` items: seed enough.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from reconciler.sandbox.handlers import CREATE_ROUTES, LIST_KEYS, LIST_ROUTES, ROUTE_PIPELINES
from reconciler.sandbox.wsgi import Answer, Environ, Request, base_url, error_body, page_window

#: a mode's place in the request: "instead" of running it, "before" (the query), "after" (the answer)
INSTEAD, BEFORE, AFTER = "instead", "before", "after"
DEFAULT_TRICKLE_MS = 200.0
ENDLESS_FIRST_ID = 10_000_000
HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>"
    b"<body><h1>Bad Gateway</h1><p>The upstream server is unavailable.</p></body></html>\n"
)


@dataclass(frozen=True)
class Mode:
    description: str
    phase: str
    methods: frozenset[str] | None = None  # None: any method
    routes: frozenset[str] | None = None  # None: any route of the Buddy API


_GET = frozenset({"GET"})
_POST = frozenset({"POST"})
MODES: dict[str, Mode] = {
    "item_without_id": Mode("list items have no id", AFTER, _GET, LIST_ROUTES),
    "item_id_string": Mode('list items have the id "x"', AFTER, _GET, LIST_ROUTES),
    "item_id_null": Mode("list items have the id null", AFTER, _GET, LIST_ROUTES),
    "item_not_object": Mode("list items are strings, not objects", AFTER, _GET, LIST_ROUTES),
    "empty_body": Mode("a success answer with an empty body", AFTER),
    "list_for_object": Mode("a JSON list where an object is due", AFTER),
    "html_body": Mode("an HTML page where JSON is due", AFTER),
    "create_204": Mode("a create is done and answered 204 with no body", AFTER, _POST, CREATE_ROUTES),
    "create_empty_object": Mode("a create is done and answered 201 {}", AFTER, _POST, CREATE_ROUTES),
    "redirect": Mode("302 to another path, nothing done", INSTEAD),
    "ignore_page": Mode("the page parameter is ignored (always the first page)", BEFORE, _GET, LIST_ROUTES),
    "endless_pages": Mode("every page is full, with fresh ids, forever", AFTER, _GET, LIST_ROUTES),
    "trickle_body": Mode("the body one byte at a time, ms apart", AFTER),
    "echo_authorization": Mode("a 400 whose message quotes the Authorization header", INSTEAD),
}


def applies(mode: str, method: str, route: str | None) -> bool:
    """Whether ``mode`` deviates on this request (``route``: the template, None when unmatched)."""
    spec = MODES[mode]
    if route is None or not route.startswith("/pipelines"):
        return False  # unmatched paths are a plain 404
    if spec.methods is not None and method not in spec.methods:
        return False
    return spec.routes is None or route in spec.routes


def phase(mode: str) -> str:
    return MODES[mode].phase


def instead(mode: str, environ: Environ, path: str, headers: dict[str, str]) -> Answer:
    """The answer of an ``INSTEAD`` mode: the request is not run."""
    if mode == "redirect":
        query = environ.get("QUERY_STRING", "")
        location = f"{base_url(environ)}/moved{quote(path, safe='/')}" + (f"?{query}" if query else "")
        return Answer(302, {**headers, "Location": location}, raw=b"", content_type="text/plain")
    sent = str(environ.get("HTTP_AUTHORIZATION", ""))
    return Answer(400, headers, error_body(f"Request refused: the header 'Authorization: {sent}' is not accepted"))


def rewrite_query(mode: str, query: dict[str, list[str]]) -> dict[str, list[str]]:
    """The query a ``BEFORE`` mode runs the request with."""
    if mode == "ignore_page":
        return {**query, "page": ["1"]}
    return query


def after(mode: str, ms: float, req: Request, answer: Answer) -> Answer:
    """An ``AFTER`` mode's version of the answer the request got."""
    if mode == "trickle_body":
        answer.trickle_s = (ms or DEFAULT_TRICKLE_MS) / 1000.0
        return answer
    if answer.status >= 300:
        return answer
    payload = answer.payload
    if mode in ("item_without_id", "item_id_string", "item_id_null", "item_not_object"):
        key = LIST_KEYS[str(req.route)]
        payload[key] = [_deviant_item(mode, item) for item in payload[key]]
    elif mode == "empty_body":
        answer.raw = b""
    elif mode == "list_for_object":
        list_key = LIST_KEYS.get(str(req.route))
        answer.payload = payload[list_key] if list_key and isinstance(payload, dict) else [payload]
    elif mode == "html_body":
        answer.raw, answer.content_type = HTML_PAGE, "text/html; charset=utf-8"
    elif mode == "create_204":
        answer.status, answer.payload = 204, None
    elif mode == "create_empty_object":
        answer.status, answer.payload = 201, {}
    elif mode == "endless_pages":
        page, per_page = page_window(req.query, refuse_over_max=False)
        first = ENDLESS_FIRST_ID + (page - 1) * per_page
        key = LIST_KEYS[str(req.route)]
        payload[key] = [_endless_item(req, first + i) for i in range(per_page)]
    return answer


def _deviant_item(mode: str, item: Mapping[str, Any]) -> Any:
    if mode == "item_not_object":
        return str(item.get("name"))
    out = dict(item)
    if mode == "item_without_id":
        out.pop("id", None)
    else:
        out["id"] = "x" if mode == "item_id_string" else None
    return out


def _endless_item(req: Request, item_id: int) -> dict[str, Any]:
    if req.route == ROUTE_PIPELINES:
        return {
            "url": f"{req.api_project}/pipelines/{item_id}",
            "html_url": f"{req.html_project}/pipelines/pipeline/{item_id}",
            "id": item_id,
            "name": f"Endless pipeline {item_id}",
            "identifier": f"endless-{item_id}",
            "refs": [],
            "events": [],
            "disabled": False,
            "definition_source": "LOCAL",
            "git_config_ref": "NONE",
        }
    pipeline_id = req.params.get("pipeline_id", "0")
    return {
        "url": f"{req.api_project}/pipelines/{pipeline_id}/actions/{item_id}",
        "html_url": f"{req.html_project}/pipelines/pipeline/{pipeline_id}/action/{item_id}",
        "id": item_id,
        "name": f"Endless action {item_id}",
        "type": "BUILD",
        "trigger_time": "ON_EVERY_EXECUTION",
        "status": "INITIAL",
        "revision": 1,
    }
