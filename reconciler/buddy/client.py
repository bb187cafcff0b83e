"""The Buddy REST API: its endpoints, and what their answers mean.

It knows the base URL and the token, the endpoints and what their answers mean: it pages through lists,
bounds concurrency, checks the shape of every answer where it arrives, and turns every failure into an
``ApiError`` subclass whose message names the method and path, never the token, a registered secret (see
``redactor``) or a request body. Getting an answer at all (connection lanes, retries, rate-limit waits and
pacing) is ``transport``'s.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import httpx

from reconciler import __version__
from reconciler.buddy import settings
from reconciler.buddy.answers import TooDeep, decode, is_id, kind, server_message, without_controls
from reconciler.buddy.pages import Listing, PageReader
from reconciler.buddy.settings import (
    BASE_URL_SOURCES,
    RATE_LIMIT_WAIT_VAR,
    TIMEOUT_VAR,
    check_seconds,
    clean_token,
    display_url,
)
from reconciler.buddy.transport import Answer, ClientSettings, Clocks, RetryPolicy, Transport
from reconciler.errors import (
    ApiError,
    AuthError,
    BadAnswerError,
    BadRequestError,
    ForbiddenError,
    NotFoundError,
    ServerError,
    UsageError,
)
from reconciler.redact import Redactor

__all__ = ["BuddyClient", "ClientSettings", "Clocks", "RetryPolicy", "check_base_url", "project_path"]


def check_base_url(url: str) -> str:
    """``settings.check_base_url``, then httpx's parse, stricter on hosts (``https://1.2.3.999``), and
    the host's labels as the resolver will check them (``a..b``, a label past 63 characters)."""
    url = settings.check_base_url(url)
    shown = settings.show(display_url(url))
    try:
        host = httpx.URL(url).raw_host
    except (ValueError, httpx.InvalidURL) as exc:
        raise UsageError(f"the base URL {shown} ({BASE_URL_SOURCES}) is not a valid URL: {exc}") from None
    try:  # what the resolver will do with it: a label empty or over 63 characters fails there, unchecked
        host.decode("ascii").encode("idna")
    except UnicodeError:
        raise UsageError(
            f"the base URL {shown} ({BASE_URL_SOURCES}) has a host name with an empty label or one longer "
            "than 63 characters"
        ) from None
    return url


#: the pipeline list's order: by id, oldest first
SORTED = "&sort_by=id&sort_direction=ASC"
READ_SCOPES = "WORKSPACE + EXECUTION_INFO (PIPELINE_READ)"
WRITE_SCOPES = "WORKSPACE + EXECUTION_MANAGE (PIPELINE_WRITE)"

T = TypeVar("T")
R = TypeVar("R")


def project_path(workspace: str, project: str) -> str:
    return f"/workspaces/{_segment(workspace)}/projects/{_segment(project)}"


def _segment(name: str) -> str:
    """``name`` as one path segment: every reserved character escaped (a ``/`` or ``?`` stays inside
    the name), and a name of ``.`` or ``..`` spelled ``%2E``, which URL normalisation does not remove
    (a bare ``..`` would climb out of the workspace to another resource)."""
    return name.replace(".", "%2E") if name in (".", "..") else quote(name, safe="")


class BuddyClient:
    """A thread-safe client for the endpoints of CONTRACT.md.

    ``settings`` holds the knobs (timeout, parallelism, retries, deadline, target). ``transport`` is
    the seam for tests (an in-process sandbox through ``httpx.WSGITransport``, or
    ``httpx.MockTransport``); ``clocks`` make waits testable. ``parallelism`` bounds concurrent
    requests across every caller of ``map``. ``notice`` receives one-line announcements (a long
    rate-limit wait); the library never prints. ``redactor`` masks the token and every secret
    registered with it (``client.redactor.add(value)``) in the messages of errors. ``stop``: ``Pacer``'s.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        settings: ClientSettings | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        clocks: Clocks | None = None,
        notice: Callable[[str], None] | None = None,
        redactor: Redactor | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        settings = settings or ClientSettings()
        token = clean_token(token)
        if not token:
            raise UsageError("no API token: set BUDDY_TOKEN (a personal access token of Buddy)")
        if settings.parallelism < 1:
            raise UsageError("--parallelism must be at least 1")
        #: seconds per request (BUDDY_TIMEOUT): apply looks for a late commit for twice as long (``uncertain``)
        self.timeout = check_seconds(settings.timeout, name=TIMEOUT_VAR)
        check_seconds(settings.retry.max_wait, name=RATE_LIMIT_WAIT_VAR, allow_zero=True)
        if settings.deadline:
            check_seconds(settings.deadline, name="the request deadline")
        self.base_url = check_base_url(base_url)
        #: what a plan records as its target: the base URL (never with userinfo), or a stable name
        self.target = settings.target or self.base_url
        self.parallelism = settings.parallelism
        self.redactor = redactor or Redactor()
        self.redactor.add(token)
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "User-Agent": f"reconcile/{__version__}",
        }
        self._transport = Transport(
            self.base_url,
            headers,
            replace(settings, timeout=self.timeout),
            clocks or Clocks(),
            http=transport,
            notice=notice,
            stop=stop,
            bad=self._bad,
        )
        #: one attempt, body included, may last this long (``settings.deadline``, else a multiple of the timeout)
        self.deadline = self._transport.deadline
        self._pool = ThreadPoolExecutor(max_workers=self.parallelism, thread_name_prefix="buddy")
        self._pages = PageReader(self._exchange, self._bad)

    @property
    def requests(self) -> Counter[str]:
        """Attempts sent, by method (retries included)."""
        return self._transport.requests

    def close(self) -> None:
        # reads still queued when the caller gives up (an interrupt) are not made; those running finish
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._transport.close()

    def __enter__(self) -> BuddyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- concurrency -------------------------------------------------------------------------------

    def submit(self, fn: Callable[..., R], *args: Any) -> Future[R]:
        """Run ``fn`` on the client's bounded pool."""
        return self._pool.submit(fn, *args)

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """Apply ``fn`` to every item concurrently (bounded); results in input order; the first
        failure is raised after every task has finished, so no request is left running."""
        futures = [self._pool.submit(fn, item) for item in items]
        results: list[R] = []
        first: BaseException | None = None
        for future in futures:
            try:
                results.append(future.result())
            except BaseException as exc:
                first = first or exc
        if first is not None:
            raise first
        return results

    # -- endpoints ---------------------------------------------------------------------------------

    def list_pipelines(
        self,
        workspace: str,
        project: str,
        *,
        confirm: bool = False,
    ) -> Listing:
        """Every pipeline summary of a project, all pages, sorted by id (a pipeline created meanwhile
        lands at the end). ``confirm``: a read of several pages is checked against a
        second read, so that none was missed (see ``pages``)."""
        path = f"{project_path(workspace, project)}/pipelines"
        return self._pages.read(path, "pipelines", query=SORTED, confirm=confirm, ascending=True)

    def get_pipeline(self, workspace: str, project: str, pipeline_id: int) -> dict[str, Any]:
        path = f"{project_path(workspace, project)}/pipelines/{pipeline_id}"
        return self._object("GET", path, "pipeline")

    def create_pipeline(self, workspace: str, project: str, fields: dict[str, Any]) -> dict[str, Any]:
        """POST a pipeline; an answer without the new pipeline's id is an uncertain ``BadAnswerError``."""
        return self._object("POST", f"{project_path(workspace, project)}/pipelines", "pipeline", json=fields)

    def update_pipeline(self, workspace: str, project: str, pipeline_id: int, fields: dict[str, Any]) -> dict[str, Any]:
        """PATCH a pipeline's fields (those sent only; ``name`` renames it)."""
        path = f"{project_path(workspace, project)}/pipelines/{pipeline_id}"
        return self._object("PATCH", path, "pipeline", json=fields)

    def delete_pipeline(self, workspace: str, project: str, pipeline_id: int) -> None:
        """DELETE a pipeline, its actions with it (``prune_pipelines``)."""
        self.request("DELETE", f"{project_path(workspace, project)}/pipelines/{pipeline_id}")

    def list_actions(
        self, workspace: str, project: str, pipeline_id: int, *, confirm: bool = False, pipeline: Any = None
    ) -> Listing:
        """Every action summary of a pipeline, in execution order, all pages (``confirm``: see
        ``list_pipelines``). The pipeline's own answer, which holds its actions in one answer, is asked
        to agree with the pages; ``pipeline``: that answer, when the caller has it already."""
        path = f"{project_path(workspace, project)}/pipelines/{pipeline_id}"

        def whole() -> Any:
            return pipeline if pipeline is not None else self._exchange("GET", path)[1]

        return self._pages.read(f"{path}/actions", "actions", confirm=confirm, whole=whole)

    def get_action(self, workspace: str, project: str, pipeline_id: int, action_id: int) -> dict[str, Any]:
        path = f"{project_path(workspace, project)}/pipelines/{pipeline_id}/actions/{action_id}"
        return self._object("GET", path, "action")

    def create_action(self, workspace: str, project: str, pipeline_id: int, fields: dict[str, Any]) -> dict[str, Any]:
        """POST an action. Never repeated after an unknown outcome: the caller re-reads first
        (an ``ApiError`` with ``uncertain=True`` says the outcome is unknown, and so does an answer
        that does not carry the new action's id)."""
        path = f"{project_path(workspace, project)}/pipelines/{pipeline_id}/actions"
        return self._object("POST", path, "action", json=fields)

    def update_action(
        self, workspace: str, project: str, pipeline_id: int, action_id: int, fields: dict[str, Any]
    ) -> dict[str, Any]:
        path = f"{project_path(workspace, project)}/pipelines/{pipeline_id}/actions/{action_id}"
        return self._object("PATCH", path, "action", json=fields)

    def delete_action(self, workspace: str, project: str, pipeline_id: int, action_id: int) -> None:
        path = f"{project_path(workspace, project)}/pipelines/{pipeline_id}/actions/{action_id}"
        self.request("DELETE", path)

    # -- answer shapes -----------------------------------------------------------------------------

    def _object(self, method: str, path: str, what: str, *, json: Any = None) -> dict[str, Any]:
        """One object with an integer ``id``; anything else is a ``BadAnswerError`` (uncertain for a write)."""
        status, body = self._exchange(method, path, json=json)
        detail: str | None = None
        if body is None:
            detail = f"is empty where the {what} is due"
        elif not isinstance(body, dict):
            detail = f"is {kind(body)} where the {what} object is due"
        elif not is_id(body.get("id")):
            detail = f"has no {what} id" + ("" if "id" not in body else f" (its id is {kind(body['id'])})")
        if detail is None:
            return body  # type: ignore[no-any-return]
        if method == "POST":
            detail += f"; the {what} may have been created: its outcome is unknown"
        raise self._bad(method, path, status, detail)

    def _bad(
        self, method: str, path: str, status: int | None, detail: str, *, page: int | None = None
    ) -> BadAnswerError:
        where = f"{path}?page={page}" if page is not None else path
        error = BadAnswerError(method, where, status, self.redactor(detail))
        error.uncertain = method != "GET"
        return error

    # -- the request loop --------------------------------------------------------------------------

    def request(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        """One logical request with retries; returns the decoded JSON body (``None`` when empty)."""
        return self._exchange(method, path, json=json, query=f"?{urlencode(params)}" if params else "")[1]

    def _exchange(
        self, method: str, path: str, *, json: Any = None, query: str = "", page: int | None = None
    ) -> tuple[int, Any]:
        """(status, decoded body) of one logical request to ``path`` + ``query``, after the
        transport's retries; messages name ``path`` (and ``page``, the page of a list). A DELETE that
        answers 404 after an earlier attempt whose outcome was unknown has succeeded."""
        answer = self._transport.send(method, path, query, json)
        if answer.status == 404 and method == "DELETE" and answer.after_unknown:
            return answer.status, None  # the earlier attempt went through
        return answer.status, self._decode(method, path, answer, page=page)

    def _decode(self, method: str, path: str, answer: Answer, *, page: int | None = None) -> Any:
        status = answer.status
        if 300 <= status < 400:
            location = answer.headers.get("Location")
            where = f"to {display_url(location)!r}" if location else "without a Location"
            raise self._bad(
                method,
                path,
                status,
                f"is a redirect {where}; redirects are not followed: check the base URL ({self.base_url}; "
                "a self-hosted Buddy is https://HOST/api)",
            )
        if status >= 400:
            raise self._api_error(method, path, answer)
        if status == 204 or not answer.body.strip():
            return None
        try:
            return decode(answer.body)
        except TooDeep:
            detail = "is nested too deeply to be an answer of the API"
            raise self._bad(method, path, status, detail, page=page) from None
        except ValueError:
            content_type = without_controls(answer.headers.get("Content-Type", "no content type").split(";")[0])[:80]
            raise self._bad(method, path, status, f"is not JSON ({content_type})", page=page) from None

    def _api_error(self, method: str, path: str, answer: Answer) -> ApiError:
        status = answer.status
        message = self.redactor(server_message(answer.body, answer.reason))
        scopes = READ_SCOPES if method == "GET" else WRITE_SCOPES
        if status == 401:
            return AuthError(
                method,
                path,
                status,
                f"{message}. The token is missing, wrong or expired: set BUDDY_TOKEN "
                f"to a personal access token with the scopes {scopes}",
            )
        if status == 403:
            return ForbiddenError(
                method,
                path,
                status,
                f"{message}. The token needs the scopes {scopes}, and the API must be enabled in the workspace",
            )
        if status == 404:
            return NotFoundError(method, path, status, message)
        if status == 400:
            return BadRequestError(method, path, status, message)
        if status >= 500:
            error = ServerError(method, path, status, message)
            error.uncertain = method != "GET"
            return error
        return ApiError(method, path, status, message)
