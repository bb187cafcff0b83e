"""The only module that talks to the network: the Buddy REST API over httpx.

It knows the base URL and the token, pages through lists, retries what is safe to retry, waits out rate limits
and paces itself from the API's budget (``reconciler.buddy.ratelimit``), bounds concurrency, checks the shape of
every answer where it arrives, and turns every failure into an ``ApiError`` subclass whose message names the
method and path, never the token, a registered secret (see ``redactor``) or a request body.

Connections: each attempt borrows one of at most ``parallelism`` httpx clients of one keep-alive
connection each (``_Lanes``). One shared httpx pool of N connections costs O(N) to O(N²) Python work
per request under its lock (httpcore scans every connection on each checkout and return, polling each
idle socket); a lane of one connection costs the same at any parallelism.
"""

from __future__ import annotations

import logging
import math
import random
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import httpx

from reconciler import __version__
from reconciler.buddy import settings
from reconciler.buddy.answers import TooDeep, decode, is_id, kind, server_message, without_controls
from reconciler.buddy.pages import Listing, PageReader
from reconciler.buddy.ratelimit import Pacer, asked_wait
from reconciler.buddy.settings import (
    BASE_URL_SOURCES,
    DEFAULT_MAX_RATE_LIMIT_WAIT,
    RATE_LIMIT_WAIT_VAR,
    TIMEOUT_VAR,
    check_seconds,
    clean_token,
    display_url,
)
from reconciler.errors import (
    ApiError,
    AuthError,
    BadAnswerError,
    BadRequestError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
    UsageError,
)
from reconciler.redact import Redactor

__all__ = ["BuddyClient", "RetryPolicy", "check_base_url", "project_path"]

log = logging.getLogger("reconciler.buddy.client")


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


#: an answer larger than this is refused while it is read (a page of 100 summaries is ~50 KB)
MAX_BODY_BYTES = 32 * 1024 * 1024
#: one attempt (connect, headers and the whole body) may last this many times the timeout
DEADLINE_FACTOR = 3.0
#: the pipeline list's order: by id, oldest first
SORTED = "&sort_by=id&sort_direction=ASC"
READ_SCOPES = "WORKSPACE + EXECUTION_INFO (PIPELINE_READ)"
WRITE_SCOPES = "WORKSPACE + EXECUTION_MANAGE (PIPELINE_WRITE)"

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. Delays are in seconds. ``attempts`` bounds tries after 5xx answers and lost
    connections; 429 answers do not use it up: they are waited out, as long as the server asks,
    until one request has spent ``max_wait`` seconds on them (``BUDDY_MAX_RATE_LIMIT_WAIT``): the waits,
    each at least ``min_wait``, or the wall time since its first 429, whichever is more."""

    attempts: int = 5
    base_delay: float = 0.25
    max_delay: float = 8.0
    max_wait: float = DEFAULT_MAX_RATE_LIMIT_WAIT
    #: the least wait after a 429 (a proxy may ask for 0.001 s; a storm of those is still a storm)
    min_wait: float = 1.0


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer read in full (within the deadline and the size cap)."""

    status: int
    headers: httpx.Headers
    body: bytes
    reason: str


class _TooSlow(Exception):
    """The answer did not complete within the request's deadline."""


def project_path(workspace: str, project: str) -> str:
    return f"/workspaces/{_segment(workspace)}/projects/{_segment(project)}"


def _segment(name: str) -> str:
    """``name`` as one path segment: every reserved character escaped (a ``/`` or ``?`` stays inside
    the name), and a name of ``.`` or ``..`` spelled ``%2E``, which URL normalisation does not remove
    (a bare ``..`` would climb out of the workspace to another resource)."""
    return name.replace(".", "%2E") if name in (".", "..") else quote(name, safe="")


class BuddyClient:
    """A thread-safe client for the endpoints of CONTRACT.md.

    ``transport`` is the seam for tests (an in-process sandbox through ``httpx.WSGITransport``, or
    ``httpx.MockTransport``); ``sleep``, ``clock`` (monotonic), ``wall_clock`` (epoch seconds, for
    ``X-Rate-Limit-Reset``) and ``rng`` make waits testable. ``parallelism`` bounds concurrent
    requests across every caller of ``map``. ``notice`` receives one-line announcements (a long
    rate-limit wait); the library never prints. ``deadline`` bounds one attempt, body included
    (default ``DEADLINE_FACTOR`` times ``timeout``). ``redactor`` masks the token and every secret
    registered with it (``client.redactor.add(value)``) in the messages of errors. ``stop``: ``Pacer``'s.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        parallelism: int = 8,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
        rng: random.Random | None = None,
        target: str | None = None,
        notice: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        deadline: float | None = None,
        redactor: Redactor | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        token = clean_token(token)
        if not token:
            raise UsageError("no API token: set BUDDY_TOKEN (a personal access token of Buddy)")
        if parallelism < 1:
            raise UsageError("--parallelism must be at least 1")
        timeout = check_seconds(timeout, name=TIMEOUT_VAR)
        #: seconds per request (BUDDY_TIMEOUT): apply looks for a late commit for twice as long (``uncertain``)
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        check_seconds(self.retry.max_wait, name=RATE_LIMIT_WAIT_VAR, allow_zero=True)
        self.base_url = check_base_url(base_url)
        #: what a plan records as its target: the base URL (never with userinfo), or a stable name
        self.target = target or self.base_url
        self.parallelism = parallelism
        self.deadline = check_seconds(deadline, name="the request deadline") if deadline else timeout * DEADLINE_FACTOR
        self.redactor = redactor or Redactor()
        self.redactor.add(token)
        self._sleep = sleep or time.sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self._rng = rng or random.Random()
        self._pacer = Pacer(
            sleep=sleep, clock=clock, wall_clock=wall_clock, notice=notice, max_wait=self.retry.max_wait, stop=stop
        )
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "User-Agent": f"reconcile/{__version__}",
        }
        # TLS only matters for https (plain http is loopback only, see check_base_url): building a
        # verifying context loads the CA bundle (tens of ms), so it is done once, and only then
        https = transport is None and self.base_url.startswith("https:")
        self._lanes = _Lanes(
            parallelism,
            lambda tls: _lane(self.base_url, headers, timeout, transport, tls),
            tls=httpx.create_ssl_context if https else _unused_tls,
        )
        self._pool = ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="buddy")
        self._pages = PageReader(self._exchange, self._bad)

    @property
    def requests(self) -> Counter[str]:
        """Attempts sent, by method (retries included)."""
        return self._pacer.sent

    def close(self) -> None:
        # reads still queued when the caller gives up (an interrupt) are not made; those running finish
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._lanes.close()

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
        baseline: Sequence[dict[str, Any]] | None = None,
    ) -> Listing:
        """Every pipeline summary of a project, all pages, sorted by id (a pipeline created meanwhile
        lands at the end). ``confirm``/``baseline``: a read of several pages is checked against a
        second read, so that none was missed (see ``pages``)."""
        path = f"{project_path(workspace, project)}/pipelines"
        return self._pages.read(path, "pipelines", query=SORTED, confirm=confirm, baseline=baseline)

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

    def list_actions(self, workspace: str, project: str, pipeline_id: int, *, confirm: bool = False) -> Listing:
        """Every action summary of a pipeline, in execution order, all pages (``confirm``: see
        ``list_pipelines``)."""
        path = f"{project_path(workspace, project)}/pipelines/{pipeline_id}/actions"
        return self._pages.read(path, "actions", confirm=confirm)

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
        """(status, decoded body) of one logical request to ``path`` + ``query``, after retries;
        messages name ``path`` (and ``page``, the page of a list).

        Retries: 429 always (the server did nothing), waiting as long as it asks up to the total cap;
        5xx and lost connections only for GET, PATCH and DELETE, a connection never made for every
        method (nothing was sent). A DELETE that answers 404 after an
        earlier attempt whose outcome was unknown has succeeded. A POST with an unknown outcome
        raises with ``uncertain=True``.
        """
        policy = self.retry
        uncertain_before = False
        failures = limited = 0
        waited = 0.0
        first_429: float | None = None
        while True:
            if not self._pacer.depart(method):
                raise RateLimitedError.interrupted(method, path, None, uncertain=uncertain_before)
            t0 = self._clock()
            try:
                answer = self._send(method, path + query, json)
            except (httpx.TransportError, _TooSlow) as exc:
                self._log(method, path, None, t0, failures + limited)
                failures += 1
                unsent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))  # it never left
                error = TransportError(method, path, None, self._describe_transport(exc))
                error.uncertain = method != "GET" and (uncertain_before or not unsent)
                if (method == "POST" and not unsent) or failures >= policy.attempts:
                    raise error from None
                uncertain_before = uncertain_before or (method != "GET" and not unsent)
                self._sleep(self._backoff(failures))
                continue
            self._log(method, path, answer.status, t0, failures + limited)
            status = answer.status
            if status == 429:
                limited += 1
                now = self._clock()
                first_429 = now if first_429 is None else first_429
                spent = max(waited, now - first_429)  # the waits, or the wall time, since the first 429
                wait = self._rate_limit_wait(method, path, answer, limited, spent)
                if not self._pacer.wait_out(wait, f"rate limited by the API: waiting {math.ceil(wait)} s"):
                    raise RateLimitedError.interrupted(method, path, 429, uncertain=uncertain_before)
                waited += wait
                continue
            if status >= 500 and method != "POST" and failures + 1 < policy.attempts:
                failures += 1
                uncertain_before = uncertain_before or method != "GET"
                self._sleep(self._backoff(failures))
                continue
            if status == 404 and method == "DELETE" and uncertain_before:
                return status, None  # the earlier attempt went through
            return status, self._decode(method, path, answer, page=page)

    def _send(self, method: str, path: str, json: Any) -> Answer:
        """One attempt on a borrowed lane, read in full within the deadline and the size cap; no
        longer in flight after (its answer's headers tell the pacer the budget)."""
        headers = None
        try:
            lane = self._lanes.borrow()
            try:
                answer = self._read(lane, method, path, json)
            finally:
                self._lanes.give_back(lane)
            headers = answer.headers
            return answer
        finally:
            self._pacer.land(headers)  # always: a thread may wait for this answer to learn the budget

    def _read(self, lane: httpx.Client, method: str, path: str, json: Any) -> Answer:
        deadline = self._clock() + self.deadline
        with lane.stream(method, path, json=json) as response:
            chunks: list[bytes] = []
            size = 0
            try:
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > MAX_BODY_BYTES:
                        raise self._bad(method, path, response.status_code, f"is larger than {MAX_BODY_BYTES} bytes")
                    if self._clock() > deadline:
                        raise _TooSlow
                    chunks.append(chunk)
            except httpx.DecodingError:
                raise self._bad(
                    method, path, response.status_code, "cannot be decoded (bad content encoding)"
                ) from None
            if self._clock() > deadline:
                raise _TooSlow
            return Answer(response.status_code, response.headers, b"".join(chunks), response.reason_phrase)

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

    def _rate_limit_wait(self, method: str, path: str, answer: Answer, limited: int, waited: float) -> float:
        """How long to wait after the ``limited``-th 429 in a row (at least ``min_wait``), given the
        time ``waited`` on 429s so far; past the total cap, an error."""
        asked = asked_wait(answer.headers, self._wall_clock())
        wait = max(asked if asked else self._backoff(limited), self.retry.min_wait)
        cap = self.retry.max_wait
        if waited + wait > cap:
            asks = f"asks to wait {wait:.0f} s more" if asked else "still answers 429"
            raise RateLimitedError(
                method,
                path,
                429,
                f"rate limited by the API: it {asks} after {waited:.0f} s of waiting, past the cap of "
                f"{cap:.0f} s ({RATE_LIMIT_WAIT_VAR} sets it)",
            )
        return wait

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.retry.max_delay, self.retry.base_delay * 2 ** (attempt - 1))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)  # jitter spreads retries apart

    def _describe_transport(self, exc: Exception) -> str:
        if isinstance(exc, _TooSlow):
            return f"no complete answer within {self.deadline:g} s (the server sends it too slowly)"
        if isinstance(exc, httpx.TimeoutException):
            return "no answer in time (timeout; BUDDY_TIMEOUT sets it)"
        if isinstance(exc, httpx.ConnectError):
            return f"cannot connect to the API at {self.base_url} (is the base URL right and reachable?)"
        return "the connection was dropped before an answer came"

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

    def _log(self, method: str, path: str, status: int | None, t0: float, retry: int) -> None:
        if log.isEnabledFor(logging.DEBUG):
            ms = (self._clock() - t0) * 1000
            again = f" retry {retry}" if retry else ""
            log.debug("%s %s %s %.0fms%s", method, path, status if status else "no answer", ms, again)


class _Lanes:
    """At most ``size`` httpx clients (lanes) of one connection each, lent one per attempt; the most
    recently returned lane goes out first, so that a sequential caller keeps one warm connection.
    ``make`` builds a lane from the TLS context they share (``tls()``, called once)."""

    def __init__(
        self, size: int, make: Callable[[ssl.SSLContext], httpx.Client], *, tls: Callable[[], ssl.SSLContext]
    ) -> None:
        self._make = make
        self._new_tls = tls
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[httpx.Client] = []  # append and pop are atomic: no lock on the hot path
        self._lock = threading.Lock()
        self._made: list[httpx.Client] = []
        self._tls: ssl.SSLContext | None = None

    def borrow(self) -> httpx.Client:
        self._slots.acquire()
        try:
            return self._idle.pop()
        except IndexError:
            pass
        try:
            with self._lock:  # a new lane: rare (at most ``size`` of them)
                if self._tls is None:
                    self._tls = self._new_tls()
                lane = self._make(self._tls)
                self._made.append(lane)
            return lane
        except BaseException:
            self._slots.release()
            raise

    def give_back(self, lane: httpx.Client) -> None:
        self._idle.append(lane)
        self._slots.release()

    def close(self) -> None:
        with self._lock:
            made, self._made, self._idle = self._made, [], []
        for lane in made:
            lane.close()


def _lane(
    base_url: str,
    headers: dict[str, str],
    timeout: float,
    transport: httpx.BaseTransport | None,
    tls: ssl.SSLContext,
) -> httpx.Client:
    one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    return httpx.Client(
        base_url=base_url,
        headers=headers,
        timeout=timeout,
        transport=transport,  # the test seam: every lane shares it
        verify=tls,
        follow_redirects=False,  # a redirect is reported, never followed (it would drop or leak the token)
        limits=one,
    )


def _unused_tls() -> ssl.SSLContext:
    """For plain http on loopback: never used, cheap (no CA bundle), and failing closed if it were."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
