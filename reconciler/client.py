"""The only module that talks to the network: the Buddy REST API over httpx.

It knows the base URL and the token, pages through lists, retries what is safe to retry, waits out
rate limits, bounds concurrency, and turns every failure into an ``ApiError`` subclass whose message
names the method and path, never the token or a request body.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import httpx

from reconciler import __version__
from reconciler.errors import (
    ApiError,
    AuthError,
    BadRequestError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
    UsageError,
)
from reconciler.loopback import is_loopback_host

log = logging.getLogger("reconciler.client")

DEFAULT_BASE_URL = "https://api.buddy.works"
REGIONS = {"us": "https://api.buddy.works", "eu": "https://api.eu.buddy.works"}
PER_PAGE = 100  # the documented maximum: fewest pages
READ_SCOPES = "WORKSPACE + EXECUTION_INFO (PIPELINE_READ)"
WRITE_SCOPES = "WORKSPACE + EXECUTION_MANAGE (PIPELINE_WRITE)"

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. Delays are in seconds; ``max_wait`` caps any single rate-limit wait."""

    attempts: int = 5
    base_delay: float = 0.25
    max_delay: float = 8.0
    max_wait: float = 120.0


def check_base_url(url: str) -> str:
    """Refuse plain http except on loopback; return the URL without a trailing slash."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"base URL {url!r} is not an http(s) URL")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise UsageError(
            f"base URL {url!r} uses plain http on a non-loopback host; use https "
            "(plain http is accepted only for 127.0.0.1, ::1 or localhost)"
        )
    return url.rstrip("/")


def project_path(workspace: str, project: str) -> str:
    return f"/workspaces/{quote(workspace, safe='')}/projects/{quote(project, safe='')}"


class BuddyClient:
    """A thread-safe client for the endpoints of CONTRACT.md.

    ``transport`` is the seam for tests (an in-process sandbox through ``httpx.WSGITransport``);
    ``sleep`` and ``rng`` make retry timing testable. ``parallelism`` bounds concurrent requests
    across every caller of ``map``.
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
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        target: str | None = None,
    ) -> None:
        if not token:
            raise UsageError("no API token: set BUDDY_TOKEN (a personal access token of Buddy)")
        if parallelism < 1:
            raise UsageError("--parallelism must be at least 1")
        self.base_url = check_base_url(base_url)
        #: what a plan records as its target: the base URL, or a stable name for an ephemeral server
        self.target = target or self.base_url
        self.parallelism = parallelism
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "User-Agent": f"reconcile/{__version__}",
            },
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(max_connections=parallelism, max_keepalive_connections=parallelism),
        )
        self._pool = ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="buddy")
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()  # by method: what we actually sent, retries included

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._http.close()

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

    def list_pipelines(self, workspace: str, project: str) -> list[dict[str, Any]]:
        """Every pipeline summary of a project, all pages."""
        return list(self._pages(f"{project_path(workspace, project)}/pipelines", "pipelines"))

    def get_pipeline(self, workspace: str, project: str, pipeline_id: int) -> dict[str, Any]:
        return self.request("GET", f"{project_path(workspace, project)}/pipelines/{pipeline_id}")

    def create_pipeline(self, workspace: str, project: str, fields: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", f"{project_path(workspace, project)}/pipelines", json=fields)

    def list_actions(self, workspace: str, project: str, pipeline_id: int) -> list[dict[str, Any]]:
        """Every action summary of a pipeline, in execution order, all pages."""
        path = f"{project_path(workspace, project)}/pipelines/{pipeline_id}/actions"
        return list(self._pages(path, "actions"))

    def get_action(self, workspace: str, project: str, pipeline_id: int, action_id: int) -> dict[str, Any]:
        path = f"{project_path(workspace, project)}/pipelines/{pipeline_id}/actions/{action_id}"
        return self.request("GET", path)

    def create_action(self, workspace: str, project: str, pipeline_id: int, fields: dict[str, Any]) -> dict[str, Any]:
        """POST an action. Never repeated after an unknown outcome: the caller re-reads first
        (an ``ApiError`` with ``uncertain=True`` says the outcome is unknown)."""
        path = f"{project_path(workspace, project)}/pipelines/{pipeline_id}/actions"
        return self.request("POST", path, json=fields)

    def update_action(
        self, workspace: str, project: str, pipeline_id: int, action_id: int, fields: dict[str, Any]
    ) -> dict[str, Any]:
        path = f"{project_path(workspace, project)}/pipelines/{pipeline_id}/actions/{action_id}"
        return self.request("PATCH", path, json=fields)

    def delete_action(self, workspace: str, project: str, pipeline_id: int, action_id: int) -> None:
        path = f"{project_path(workspace, project)}/pipelines/{pipeline_id}/actions/{action_id}"
        self.request("DELETE", path)

    # -- the request loop --------------------------------------------------------------------------

    def _pages(self, path: str, key: str) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            body = self.request("GET", path, params={"page": page, "per_page": PER_PAGE})
            items = body.get(key) if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise ApiError("GET", path, 200, f"the answer has no {key!r} list")
            yield from items
            if len(items) < PER_PAGE:
                return
            page += 1

    def request(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        """One logical request with retries; returns the decoded JSON body (``None`` for 204).

        Retries: 429 always (the server did nothing); 5xx and lost connections only for GET, PATCH
        and DELETE. A DELETE that answers 404 after an earlier attempt whose outcome was unknown
        has succeeded. A POST with an unknown outcome raises with ``uncertain=True``.
        """
        policy = self.retry
        uncertain_before = False
        attempt = 0
        started = time.monotonic()
        while True:
            attempt += 1
            self.requests[method] += 1
            t0 = time.monotonic()
            try:
                response = self._http.request(method, path, json=json, params=params)
            except httpx.TransportError as exc:
                self._log(method, path, None, t0, attempt)
                error = TransportError(method, path, None, _describe_transport(exc))
                error.uncertain = method != "GET"
                if method == "POST" or attempt >= policy.attempts:
                    raise error from None
                uncertain_before = uncertain_before or method != "GET"
                self._sleep(self._backoff(attempt))
                continue
            self._log(method, path, response.status_code, t0, attempt)
            status = response.status_code
            if status == 429 and attempt < policy.attempts:
                wait = _rate_limit_wait(response)
                if wait is None:
                    wait = self._backoff(attempt)
                if time.monotonic() - started + wait <= policy.max_wait:
                    self._sleep(wait)
                    continue
            if status >= 500 and method != "POST" and attempt < policy.attempts:
                uncertain_before = uncertain_before or method != "GET"
                self._sleep(self._backoff(attempt))
                continue
            if status == 404 and method == "DELETE" and uncertain_before:
                return None  # the earlier attempt went through
            if status >= 400:
                raise _api_error(method, path, response)
            if status == 204 or not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                raise ApiError(method, path, status, "the answer is not JSON") from None

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.retry.max_delay, self.retry.base_delay * 2 ** (attempt - 1))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)  # jitter spreads retries apart

    def _log(self, method: str, path: str, status: int | None, t0: float, attempt: int) -> None:
        if log.isEnabledFor(logging.DEBUG):
            ms = (time.monotonic() - t0) * 1000
            retry = f" retry {attempt - 1}" if attempt > 1 else ""
            log.debug("%s %s %s %.0fms%s", method, path, status if status else "no answer", ms, retry)


def _describe_transport(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "no answer in time (timeout; BUDDY_TIMEOUT sets it)"
    if isinstance(exc, httpx.ConnectError):
        return "cannot connect to the API (is the base URL right and reachable?)"
    return "the connection was dropped before an answer came"


def _rate_limit_wait(response: httpx.Response) -> float | None:
    retry_after = response.headers.get("Retry-After")
    if retry_after:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(retry_after).timestamp() - time.time())
            except (TypeError, ValueError):
                pass
    reset = response.headers.get("X-Rate-Limit-Reset")
    if reset:
        try:
            return max(0.0, float(reset) - time.time())
        except ValueError:
            return None
    return None


def _server_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or "no message"
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        messages = [str(e.get("message")) for e in body["errors"] if isinstance(e, dict)]
        if messages:
            return "; ".join(messages)
    return response.reason_phrase or "no message"


def _api_error(method: str, path: str, response: httpx.Response) -> ApiError:
    status = response.status_code
    message = _server_message(response)
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
    if status == 429:
        return RateLimitedError(method, path, status, f"{message} (still rate limited after retries)")
    if status >= 500:
        error = ServerError(method, path, status, message)
        error.uncertain = method != "GET"
        return error
    return ApiError(method, path, status, message)
