"""The simulator as a plain WSGI app: the endpoints of CONTRACT.md plus a loopback-only control API.

Per request, in order: control paths (``/__sandbox/…``, loopback clients only, no token: see
``control.py``); injected latency and faults (``faults.py``, ``deviant.py``); the rate-limit budget
(``ratelimit.py``); the bearer token (401) and its scopes (403); the route (404/405); the handler
(``handlers.py``), which holds the state lock for its whole run. Every answer carries the three
``X-Rate-Limit-*`` headers and, when it is an error, ``{"errors": [{"message": …}]}``.
"""

from __future__ import annotations

import hmac
import json
import math
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs

from reconciler.sandbox import control, deviant, shift
from reconciler.sandbox.faults import ConnectionDropped, Decision, FaultRule, Faults
from reconciler.sandbox.handlers import ALLOWED, BuddyApi, match
from reconciler.sandbox.ratelimit import DEFAULT_LIMIT, DEFAULT_WINDOW_S, RateLimiter
from reconciler.sandbox.state import SandboxState
from reconciler.sandbox.stats import Stats
from reconciler.sandbox.switches import Switches
from reconciler.sandbox.wsgi import (
    DEFAULT_PER_PAGE,
    MAX_PER_PAGE,
    Answer,
    ApiProblem,
    Environ,
    Request,
    StartResponse,
    base_url,
    error_body,
    path_segments,
    render,
)

DEFAULT_TOKEN = "sandbox-token"
ALL_SCOPES = frozenset({"WORKSPACE", "EXECUTION_INFO", "EXECUTION_MANAGE", "PIPELINE_READ", "PIPELINE_WRITE"})

__all__ = ["ALL_SCOPES", "DEFAULT_PER_PAGE", "DEFAULT_TOKEN", "MAX_PER_PAGE", "SandboxApp", "Switches"]


class SandboxApp:
    """The Buddy API simulator as a WSGI callable.

    ``state``: the data (a fresh empty state when omitted). ``tokens``: token → scopes (default
    ``{DEFAULT_TOKEN: ALL_SCOPES}``). ``faults``, ``rate_limit`` (requests per ``rate_window_s``),
    ``switches``: see their classes. ``clock`` and ``sleep`` are seams for tests.
    The state as constructed is remembered: ``reset()`` goes back to it.
    """

    def __init__(
        self,
        state: SandboxState | None = None,
        *,
        tokens: Mapping[str, Iterable[str]] | None = None,
        faults: Faults | None = None,
        rate_limit: int = DEFAULT_LIMIT,
        rate_window_s: float = DEFAULT_WINDOW_S,
        switches: Switches | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._state = state if state is not None else SandboxState()
        self._initial = json.loads(json.dumps(self._state.to_data()))
        self._tokens: dict[str, frozenset[str]] = {}
        for token, scopes in (tokens if tokens is not None else {DEFAULT_TOKEN: ALL_SCOPES}).items():
            self.add_token(token, scopes)
        self.faults = faults if faults is not None else Faults()
        self.rate_limiter = RateLimiter(rate_limit, rate_window_s, clock)
        self.switches = switches if switches is not None else Switches()
        self.api = BuddyApi(lambda: self._state, self.switches, clock)
        self._stats = Stats()
        self._clock = clock
        self._sleep = sleep

    # -- the Python control surface (the same as /__sandbox/…) -----------------------------------

    @property
    def state(self) -> SandboxState:
        return self._state

    def add_token(self, token: str, scopes: Iterable[str]) -> None:
        """Accept ``token`` with ``scopes`` (e.g. ``{"WORKSPACE", "EXECUTION_INFO"}`` for read-only)."""
        if not token:
            raise ValueError("a token must not be empty")
        self._tokens[token] = frozenset(s.upper() for s in scopes)

    def token_scopes(self, token: str) -> frozenset[str]:
        return self._tokens[token]

    def stats(self, *, with_log: bool = False) -> dict[str, Any]:
        """``{"total", "rate_limited", "by_method", "by_route", "by_status", "faults"}`` (and ``log``,
        the last requests: method, path, status, fault) of the Buddy API requests since the last
        reset. ``rate_limited`` counts every 429, from the budget or from an injected storm."""
        return self._stats.to_dict(with_log=with_log)

    def reset_stats(self) -> None:
        self._stats.reset()

    def set_faults(
        self,
        *rules: FaultRule | Mapping[str, Any],
        latency_ms: float = 0.0,
        jitter_ms: float = 0.0,
        seed: int | None = None,
        append: bool = False,
    ) -> None:
        """Replace (or with ``append`` add to) the fault rules and set the global latency.
        A ``seed`` restarts the random sequence."""
        built = [r if isinstance(r, FaultRule) else FaultRule.from_dict(r) for r in rules]
        if append:
            built = [*self.faults.rules, *built]
        self.faults.configure(rules=built, latency_ms=latency_ms, jitter_ms=jitter_ms, seed=seed)

    def set_deviant(self, mode: str, *, append: bool = False, **rule: Any) -> None:
        """Answer the way deviant ``mode`` says (see ``deviant.py``); ``rule`` takes the other keys of
        a fault rule (``count``, ``route``, ``methods``, ``rate``, ``ms``). Replaces the fault rules
        unless ``append``."""
        self.set_faults({"kind": "deviant", "mode": mode, **rule}, append=append)

    def set_shift(self, mode: str, *, append: bool = False, **rule: Any) -> None:
        """Move a list between two page reads (``mode`` ``insert`` or ``remove``, see ``shift.py``);
        ``rule`` takes ``count``, ``route``, ``rate``. Replaces the fault rules unless ``append``."""
        self.set_faults({"kind": "shift", "mode": mode, **rule}, append=append)

    def set_late_commit(self, ms: float, *, append: bool = False, **rule: Any) -> None:
        """Hold writes ``ms`` milliseconds, then do them (``count``, ``methods``, ``route``…)."""
        self.set_faults({"kind": "late_commit", "ms": ms, **rule}, append=append)

    def clear_faults(self) -> None:
        self.faults.clear()

    def set_api_disabled(self, workspace: str, *, disabled: bool = True) -> None:
        """Answer every request into ``workspace`` with 403 "API is disabled in this workspace" (or
        stop doing so); kept in the state (the seed key ``api_disabled``)."""
        self._state.set_api_disabled(workspace, disabled)

    def set_switches(self, **values: Any) -> None:
        self.switches.update(values)

    def set_rate_limit(self, limit: int, window_s: float = DEFAULT_WINDOW_S) -> None:
        """A budget of ``limit`` requests per ``window_s`` seconds, starting now."""
        self.rate_limiter.configure(limit, window_s)

    def reset(self, *, data: Mapping[str, Any] | None = None, seed: int | None = None) -> None:
        """Back to the state the app was built with (or to ``data``, in the seed format); faults
        cleared (``seed`` reseeds them), stats and the rate-limit budget restarted."""
        source = data if data is not None else self._initial
        fresh = SandboxState.from_data(source, source="reset", state_file=self._state.state_file)
        with self._state.lock:
            self._state = fresh
        fresh.save()
        self.faults.configure(rules=[], latency_ms=0, jitter_ms=0, seed=seed, reseed=True)
        self._stats.reset()
        self.rate_limiter.configure(self.rate_limiter.limit, self.rate_limiter.window_s)

    # -- WSGI ----------------------------------------------------------------------------------------

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        path = str(environ.get("PATH_INFO") or "/")
        if path.startswith("/__sandbox"):
            return control.handle(self, environ, start_response, method, path)
        route, params = match(path, path_segments(environ, path))
        decision = self.faults.decide(method, route or path)
        if decision.delay_s > 0:
            self._sleep(decision.delay_s)  # per request: the server runs each request on its own thread
        answer, fault = self._answer(environ, method, path, route, params, decision)
        self._stats.record(method, path, route, answer.status if answer else None, fault)
        if answer is None:
            raise ConnectionDropped()
        return render(start_response, answer, self._sleep)

    def _answer(
        self,
        environ: Environ,
        method: str,
        path: str,
        route: str | None,
        params: dict[str, str],
        decision: Decision,
    ) -> tuple[Answer | None, str | None]:
        """The answer (None: drop the connection) and the name of the fault that shaped it."""
        pre = decision.pre
        if pre is not None:
            if pre.kind == "drop":
                return None, "drop"
            if pre.kind == "error":
                return Answer(pre.status, self.rate_limiter.peek(), error_body("Injected server error")), "error"
            headers = self.rate_limiter.exhausted_headers(pre.retry_after)
            return Answer(429, headers, error_body("Too many requests")), "rate_limit"
        mode = decision.deviant.mode if decision.deviant is not None else None
        if mode is not None and deviant.phase(mode) == deviant.INSTEAD:
            return deviant.instead(mode, environ, path, self.rate_limiter.peek()), f"deviant:{mode}"
        allowed, headers, wait = self.rate_limiter.take()
        if not allowed:
            headers["Retry-After"] = str(max(1, math.ceil(wait)))
            return Answer(429, headers, error_body("Rate limit exceeded")), None
        try:
            request = self._request(environ, method, path, route, params, mode)
            rule = decision.shift
            if rule is not None and not shift.shift(
                self._state, request, str(rule.mode), lambda: self.faults.spend(rule), self._clock()
            ):
                decision.shift = None  # not fired (page 1, or nothing to remove): not this answer's fault
            if decision.hold is not None:
                self._sleep(decision.hold.ms / 1000.0)  # the client may give up meanwhile; the write still lands
            status, payload = self.api.dispatch(request)
        except ApiProblem as problem:
            headers.update(problem.headers)
            return Answer(problem.status, headers, error_body(problem.message)), _fault_name(decision, None)
        commit = decision.commit
        if commit is not None and status < 300 and self.faults.spend(commit):
            if commit.kind == "commit_then_drop":
                return None, "commit_then_drop"
            return Answer(commit.status, headers, error_body("Injected server error")), "commit_then_error"
        answer = Answer(status, headers, payload)
        if mode is not None and decision.deviant is not None and deviant.phase(mode) == deviant.AFTER:
            answer = deviant.after(mode, decision.deviant.ms, request, answer)
        return answer, _fault_name(decision, mode)

    def _request(
        self, environ: Environ, method: str, path: str, route: str | None, params: dict[str, str], mode: str | None
    ) -> Request:
        """The routed request, once the token and the method are known to be good."""
        self._authorize(environ, method)
        if route is None:
            raise ApiProblem(404, "Not found")
        if method not in ALLOWED[route]:
            raise ApiProblem(405, f"Method {method} is not allowed here", {"Allow": ", ".join(ALLOWED[route])})
        query = parse_qs(environ.get("QUERY_STRING", ""))
        if mode is not None and deviant.phase(mode) == deviant.BEFORE:
            query = deviant.rewrite_query(mode, query)
        return Request(method, path, route, params, query, base_url(environ), environ)

    def _authorize(self, environ: Environ, method: str) -> None:
        scheme, _, token = str(environ.get("HTTP_AUTHORIZATION", "")).partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiProblem(401, "Authentication required: send Authorization: Bearer <token>")
        scopes: frozenset[str] | None = None
        for known, known_scopes in self._tokens.items():
            # constant-time comparison, so the sandbox does not teach timing attacks by example
            if hmac.compare_digest(known.encode(), token.encode()):
                scopes = known_scopes
        if scopes is None:
            raise ApiProblem(401, "Invalid or expired token")
        if "WORKSPACE" not in scopes:
            raise ApiProblem(403, "The token lacks the scope WORKSPACE")
        if method == "GET":
            if not scopes & {"EXECUTION_INFO", "PIPELINE_READ"}:
                raise ApiProblem(403, "The token lacks the scope EXECUTION_INFO (or PIPELINE_READ)")
        elif not scopes & {"EXECUTION_MANAGE", "PIPELINE_WRITE"}:
            raise ApiProblem(403, "The token lacks the scope EXECUTION_MANAGE (or PIPELINE_WRITE)")


def _fault_name(decision: Decision, mode: str | None) -> str | None:
    if decision.hold is not None:
        return "late_commit"
    if decision.shift is not None:
        return f"shift:{decision.shift.mode}"
    return f"deviant:{mode}" if mode is not None else None
