"""WSGI plumbing shared by the API handlers and the control API: requests, error answers, rendering.

An ``Answer`` is what a request comes to before it is written: a status, headers and either a JSON
payload or raw bytes. ``render`` turns it into a WSGI response; a trickled answer (a deviant mode)
comes out one byte at a time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import quote, unquote

from reconciler.sandbox.fields import FieldError

StartResponse = Callable[..., Any]
Environ = dict[str, Any]

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100

REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    302: "Found",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class ApiProblem(Exception):
    """An error answer: status and the message for ``{"errors": [{"message": …}]}``."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def field_problem(exc: FieldError) -> ApiProblem:
    """The 400 that answers a field that does not fit its spec (the one place that words it)."""
    return ApiProblem(400, f"Invalid field {exc.path}: {exc.message}")


@dataclass(frozen=True)
class Request:
    """One Buddy API request, routed: ``route`` is the template, ``params`` its path segments."""

    method: str
    path: str
    route: str | None
    params: dict[str, str]
    query: dict[str, list[str]]
    base: str
    environ: Environ

    @cached_property
    def api_project(self) -> str:
        """``http://host/workspaces/W/projects/P``, built once per request (quoting is not cheap)."""
        return f"{self.base}{project_prefix(self.params)}"

    @cached_property
    def html_project(self) -> str:
        return f"{self.base}/{quote_segment(self.params['workspace'])}/{quote_segment(self.params['project'])}"

    def body(self) -> dict[str, Any]:
        """The JSON object in the body; anything else is a 400."""
        return read_json_object(self.environ)


def read_json_object(environ: Environ) -> dict[str, Any]:
    """The request body as a JSON object; an empty, broken or non-object body is a 400."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise ApiProblem(400, "Invalid Content-Length") from None
    raw = environ["wsgi.input"].read(length) if length > 0 else b""
    if not raw.strip():
        raise ApiProblem(400, "The request body must be a JSON object")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiProblem(400, "The request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiProblem(400, "The request body must be a JSON object")
    return data


def query_int(query: Mapping[str, list[str]], key: str, default: int) -> int:
    """A positive integer query parameter (the last one given); anything else is a 400."""
    values = query.get(key)
    if not values:
        return default
    try:
        value = int(values[-1])
    except ValueError:
        raise ApiProblem(400, f"{key} must be a positive integer") from None
    if value < 1:
        raise ApiProblem(400, f"{key} must be a positive integer")
    return value


def page_window(
    query: Mapping[str, list[str]], *, refuse_over_max: bool, largest: int = MAX_PER_PAGE
) -> tuple[int, int]:
    """``(page, per_page)`` of a list request; ``per_page`` over ``largest`` is clamped or a 400."""
    page = query_int(query, "page", 1)
    per_page = query_int(query, "per_page", min(DEFAULT_PER_PAGE, largest))
    if per_page > largest:
        if refuse_over_max:
            raise ApiProblem(400, f"per_page must be at most {largest}")
        per_page = largest
    return page, per_page


#: the environ key of the request path as sent, percent-escapes and all (our server sets it; a WSGI
#: server that does not leaves routing to the decoded PATH_INFO, where an escaped ``/`` splits a name)
RAW_PATH = "reconciler.raw_path"


def path_segments(environ: Mapping[str, object], path: str) -> list[str]:
    """The segments of the request path, each decoded as UTF-8 on its own when the raw path is known."""
    raw = environ.get(RAW_PATH)
    if not isinstance(raw, str):
        return path.strip("/").split("/")
    return [unquote(part, errors="replace") for part in raw.strip("/").split("/")]


def quote_segment(segment: str) -> str:
    return quote(segment, safe="")


def project_prefix(params: Mapping[str, str]) -> str:
    return f"/workspaces/{quote_segment(params['workspace'])}/projects/{quote_segment(params['project'])}"


def base_url(environ: Environ) -> str:
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST")
    if not host:
        host = f"{environ.get('SERVER_NAME', '127.0.0.1')}:{environ.get('SERVER_PORT', '80')}"
    return f"{scheme}://{host}"


def error_body(message: str) -> dict[str, Any]:
    return {"errors": [{"message": message}]}


@dataclass
class Answer:
    """A response before it is written. ``raw`` (with ``content_type``) replaces the JSON payload;
    ``trickle_s`` > 0 sends the body one byte at a time, that long apart."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    payload: Any = None
    raw: bytes | None = None
    content_type: str = "application/json"
    trickle_s: float = 0.0

    def body_bytes(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return b"" if self.payload is None else json.dumps(self.payload, separators=(",", ":")).encode("utf-8")


def render(start_response: StartResponse, answer: Answer, sleep: Callable[[float], None]) -> Iterable[bytes]:
    """Write ``answer`` through WSGI's ``start_response``; ``sleep`` paces a trickled body."""
    data = answer.body_bytes()
    out = list(answer.headers.items())
    if answer.payload is not None or answer.raw is not None:
        out.append(("Content-Type", answer.content_type))
    out.append(("Content-Length", str(len(data))))
    start_response(f"{answer.status} {REASONS.get(answer.status, 'Error')}", out)
    if answer.trickle_s > 0 and len(data) > 1:
        return _trickle(data, answer.trickle_s, sleep)
    return [data]


def _trickle(data: bytes, interval_s: float, sleep: Callable[[float], None]) -> Iterator[bytes]:
    for i in range(len(data)):
        if i:
            sleep(interval_s)
        yield data[i : i + 1]


def respond(start_response: StartResponse, status: int, headers: dict[str, str], payload: Any) -> Iterable[bytes]:
    """A JSON answer (``payload`` None: no body)."""
    return render(start_response, Answer(status, headers, payload), lambda _s: None)
