"""One logical request on the wire: connection lanes, retries, rate-limit waits and pacing.

``client`` says what to ask and what the answer means; this module gets an answer at all. It tries
again what is safe to try again, waits out 429s (as long as the server asks, up to a cap) and paces
itself from the API's budget (``ratelimit``), and reads every answer in full within a deadline and a
size cap. Failures here are ``TransportError`` and ``RateLimitedError``; the answer's meaning (4xx,
redirects, JSON) is the client's.

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
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from reconciler.buddy.ratelimit import Pacer, asked_wait
from reconciler.buddy.settings import DEFAULT_MAX_RATE_LIMIT_WAIT, RATE_LIMIT_WAIT_VAR
from reconciler.errors import BadAnswerError, RateLimitedError, TransportError

__all__ = ["Answer", "ClientSettings", "Clocks", "RetryPolicy", "Transport"]

log = logging.getLogger("reconciler.buddy.client")

#: an answer larger than this is refused while it is read (a page of 100 summaries is ~50 KB)
MAX_BODY_BYTES = 32 * 1024 * 1024
#: one attempt (connect, headers and the whole body) may last this many times the timeout
DEADLINE_FACTOR = 3.0


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


@dataclass(frozen=True)
class ClientSettings:
    """The client's knobs. ``timeout``: seconds per request (``BUDDY_TIMEOUT``); ``parallelism``
    bounds concurrent requests; ``deadline`` bounds one attempt, body included (default
    ``DEADLINE_FACTOR`` times ``timeout``); ``target``: what a plan records as its target (default:
    the base URL)."""

    timeout: float = 30.0
    parallelism: int = 8
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    deadline: float | None = None
    target: str | None = None


@dataclass(frozen=True)
class Clocks:
    """What makes waits testable: ``sleep`` (default ``time.sleep``), ``clock`` (monotonic),
    ``wall_clock`` (epoch seconds, for ``X-Rate-Limit-Reset``) and ``rng`` (the backoff's jitter)."""

    sleep: Callable[[float], None] | None = None
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time
    rng: random.Random | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer read in full (within the deadline and the size cap). ``after_unknown``: an
    earlier attempt of the same request had an unknown outcome (it may have been done)."""

    status: int
    headers: httpx.Headers
    body: bytes
    reason: str
    after_unknown: bool = False


class _TooSlow(Exception):
    """The answer did not complete within the request's deadline."""


@dataclass
class _Tries:
    """Where one logical request stands: attempts lost (``failures``), 429s met, time spent on them."""

    failures: int = 0
    limited: int = 0
    waited: float = 0.0
    first_429: float | None = None
    #: an earlier attempt of a write may have been done
    unknown: bool = False


#: builds the error for an answer that cannot be read (method, path, status, detail)
BadAnswer = Callable[[str, str, int | None, str], BadAnswerError]


class Transport:
    """Sends one logical request with retries over at most ``settings.parallelism`` lanes.

    ``http`` is the seam for tests (an in-process sandbox through ``httpx.WSGITransport``, or
    ``httpx.MockTransport``); ``notice`` and ``stop`` are the ``Pacer``'s; ``bad`` makes the error
    for an answer too large or undecodable (the client's, so that it is worded and redacted once)."""

    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        settings: ClientSettings,
        clocks: Clocks,
        *,
        http: httpx.BaseTransport | None = None,
        notice: Callable[[str], None] | None = None,
        stop: threading.Event | None = None,
        bad: BadAnswer,
    ) -> None:
        self.base_url = base_url
        self.retry = settings.retry
        self.deadline = settings.deadline or settings.timeout * DEADLINE_FACTOR
        self._bad = bad
        self._sleep = clocks.sleep or time.sleep
        self._clock = clocks.clock
        self._wall_clock = clocks.wall_clock
        self._rng = clocks.rng or random.Random()
        self._pacer = Pacer(
            sleep=clocks.sleep,
            clock=clocks.clock,
            wall_clock=clocks.wall_clock,
            notice=notice,
            max_wait=self.retry.max_wait,
            stop=stop,
        )
        # TLS only matters for https (plain http is loopback only, see check_base_url): building a
        # verifying context loads the CA bundle (tens of ms), so it is done once, and only then
        https = http is None and base_url.startswith("https:")
        self._lanes = _Lanes(
            settings.parallelism,
            lambda tls: _lane(base_url, headers, settings.timeout, http, tls),
            tls=httpx.create_ssl_context if https else _unused_tls,
        )

    @property
    def requests(self) -> Counter[str]:
        """Attempts sent, by method (retries included)."""
        return self._pacer.sent

    def close(self) -> None:
        self._lanes.close()

    def send(self, method: str, path: str, query: str = "", json: Any = None) -> Answer:
        """The answer to one logical request to ``path`` + ``query``, after retries (messages name
        ``path``).

        Retries: 429 always (the server did nothing), waiting as long as it asks up to the total cap;
        5xx and lost connections only for GET, PATCH and DELETE, a connection never made for every
        method (nothing was sent). A POST with an unknown outcome raises with ``uncertain=True``.
        """
        tries = _Tries()
        while True:
            if not self._pacer.depart(method):
                raise RateLimitedError.interrupted(method, path, None, uncertain=tries.unknown)
            t0 = self._clock()
            try:
                answer = self._attempt(method, path + query, json)
            except (httpx.TransportError, _TooSlow) as exc:
                self._log(method, path, None, t0, tries)
                self._after_lost(method, path, exc, tries)
                continue
            self._log(method, path, answer.status, t0, tries)
            if answer.status == 429:
                self._after_429(method, path, answer, tries)
                continue
            if answer.status >= 500 and method != "POST" and tries.failures + 1 < self.retry.attempts:
                tries.failures += 1
                tries.unknown = tries.unknown or method != "GET"
                self._sleep(self._backoff(tries.failures))
                continue
            return replace(answer, after_unknown=tries.unknown)

    def _after_lost(self, method: str, path: str, exc: Exception, tries: _Tries) -> None:
        """After an attempt without an answer: wait to try again, or raise when that is not safe
        (a POST that may have been sent) or the attempts are used up."""
        tries.failures += 1
        unsent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))  # it never left
        error = TransportError(method, path, None, self._describe(exc))
        error.uncertain = method != "GET" and (tries.unknown or not unsent)
        if (method == "POST" and not unsent) or tries.failures >= self.retry.attempts:
            raise error from None
        tries.unknown = tries.unknown or (method != "GET" and not unsent)
        self._sleep(self._backoff(tries.failures))

    def _after_429(self, method: str, path: str, answer: Answer, tries: _Tries) -> None:
        """Wait out a 429 as the server asks, or raise past the cap or when a stop cuts the wait."""
        tries.limited += 1
        now = self._clock()
        tries.first_429 = now if tries.first_429 is None else tries.first_429
        spent = max(tries.waited, now - tries.first_429)  # the waits, or the wall time, since the first 429
        wait = self._rate_limit_wait(method, path, answer, tries.limited, spent)
        if not self._pacer.wait_out(wait, f"rate limited by the API: waiting {math.ceil(wait)} s"):
            raise RateLimitedError.interrupted(method, path, 429, uncertain=tries.unknown)
        tries.waited += wait

    def _attempt(self, method: str, path: str, json: Any) -> Answer:
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

    def _describe(self, exc: Exception) -> str:
        if isinstance(exc, _TooSlow):
            return f"no complete answer within {self.deadline:g} s (the server sends it too slowly)"
        if isinstance(exc, httpx.TimeoutException):
            return "no answer in time (timeout; BUDDY_TIMEOUT sets it)"
        if isinstance(exc, httpx.ConnectError):
            return f"cannot connect to the API at {self.base_url} (is the base URL right and reachable?)"
        return "the connection was dropped before an answer came"

    def _log(self, method: str, path: str, status: int | None, t0: float, tries: _Tries) -> None:
        if log.isEnabledFor(logging.DEBUG):
            ms = (self._clock() - t0) * 1000
            retry = tries.failures + tries.limited
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
