"""The control API under ``/__sandbox/…``: loopback clients only, no token (README.md lists it).

Tests and benchmarks in other processes use it to set faults, deviant modes, switches, the rate
budget and tokens, to read the stats and the state, and to reset; it mirrors ``SandboxApp``'s Python
methods. Its own requests are never counted in the stats and never spend the rate budget.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from reconciler.errors import SandboxError
from reconciler.loopback import is_loopback_host
from reconciler.sandbox import deviant
from reconciler.sandbox.faults import FaultConfigError
from reconciler.sandbox.ratelimit import DEFAULT_LIMIT, DEFAULT_WINDOW_S
from reconciler.sandbox.wsgi import ApiProblem, Environ, StartResponse, error_body, query_int, read_json_object, respond

if TYPE_CHECKING:
    from reconciler.sandbox.app import SandboxApp


class _Call:
    """One control request: the app, the method, the query and the body (read on demand)."""

    def __init__(self, app: SandboxApp, environ: Environ, method: str) -> None:
        self.app = app
        self.environ = environ
        self.method = method
        self.query = parse_qs(environ.get("QUERY_STRING", ""))

    def body(self, *, optional: bool = False) -> dict[str, Any]:
        try:
            return read_json_object(self.environ)
        except ApiProblem:
            if optional:
                return {}
            raise

    def only(self, *methods: str) -> None:
        if self.method not in methods:
            raise ApiProblem(405, " or ".join(methods))


def handle(app: SandboxApp, environ: Environ, start_response: StartResponse, method: str, path: str) -> Iterable[bytes]:
    """Answer one control request (403 unless the client is on loopback)."""
    headers = app.rate_limiter.peek()
    if not is_loopback_host(str(environ.get("REMOTE_ADDR", ""))):
        return respond(start_response, 403, headers, error_body("The sandbox control API is loopback-only"))
    endpoint = _ENDPOINTS.get(path.rstrip("/"))
    try:
        if endpoint is None:
            raise ApiProblem(404, "Unknown sandbox control endpoint")
        payload = endpoint(_Call(app, environ, method))
        status = 200
    except ApiProblem as problem:
        status, payload = problem.status, error_body(problem.message)
    except (ValueError, FaultConfigError) as exc:
        status, payload = 400, error_body(str(exc))
    return respond(start_response, status, headers, payload)


def _health(call: _Call) -> Any:
    call.only("GET")
    return {"ok": True}


def _stats(call: _Call) -> Any:
    call.only("GET")
    return call.app.stats(with_log="log" in call.query)


def _stats_reset(call: _Call) -> Any:
    call.only("POST")
    call.app.reset_stats()
    return call.app.stats()


def _state(call: _Call) -> Any:
    call.only("GET")
    return call.app.state.to_data()


def _reset(call: _Call) -> Any:
    call.only("POST")
    seed = query_int(call.query, "seed", 0) if "seed" in call.query else None
    data = call.body(optional=True).get("state")
    try:
        call.app.reset(data=data, seed=seed)
    except SandboxError as exc:  # a bad seed: the caller's mistake
        raise ApiProblem(400, str(exc)) from None
    return {"ok": True}


def _faults(call: _Call) -> Any:
    call.only("GET", "POST", "DELETE")
    if call.method == "POST":
        call.app.faults.configure_from_json(call.body())
    elif call.method == "DELETE":
        call.app.clear_faults()
    return call.app.faults.to_dict()


def _deviants(call: _Call) -> Any:
    call.only("GET")
    return {name: mode.description for name, mode in deviant.MODES.items()}


def _switches(call: _Call) -> Any:
    call.only("GET", "POST")
    if call.method == "POST":
        call.app.switches.update(call.body())
    return asdict(call.app.switches)


def _rate_limit(call: _Call) -> Any:
    call.only("GET", "POST")
    limiter = call.app.rate_limiter
    if call.method == "POST":
        data = call.body()
        try:
            limit, window_s = int(data.get("limit", DEFAULT_LIMIT)), float(data.get("window_s", DEFAULT_WINDOW_S))
        except (TypeError, ValueError):
            raise ApiProblem(400, 'expected {"limit": int, "window_s": seconds}') from None
        call.app.set_rate_limit(limit, window_s)
    return {"limit": limiter.limit, "window_s": limiter.window_s}


def _tokens(call: _Call) -> Any:
    call.only("POST")
    data = call.body()
    token, scopes = data.get("token"), data.get("scopes", [])
    if not isinstance(token, str) or not isinstance(scopes, list):
        raise ApiProblem(400, 'expected {"token": str, "scopes": [str]}')
    call.app.add_token(token, [str(s) for s in scopes])
    return {"scopes": sorted(call.app.token_scopes(token))}  # the token itself is never echoed


def _api_disabled(call: _Call) -> Any:
    call.only("POST")
    data = call.body()
    workspace, disabled = data.get("workspace"), data.get("disabled", True)
    if not isinstance(workspace, str) or not isinstance(disabled, bool):
        raise ApiProblem(400, 'expected {"workspace": str, "disabled": bool}')
    call.app.set_api_disabled(workspace, disabled=disabled)  # an unknown workspace: ValueError, a 400
    return {workspace: disabled}


_ENDPOINTS: dict[str, Callable[[_Call], Any]] = {
    "/__sandbox/health": _health,
    "/__sandbox/stats": _stats,
    "/__sandbox/stats/reset": _stats_reset,
    "/__sandbox/state": _state,
    "/__sandbox/reset": _reset,
    "/__sandbox/faults": _faults,
    "/__sandbox/deviants": _deviants,
    "/__sandbox/switches": _switches,
    "/__sandbox/rate-limit": _rate_limit,
    "/__sandbox/tokens": _tokens,
    "/__sandbox/api-disabled": _api_disabled,
}
