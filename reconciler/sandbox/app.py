"""The simulator as a plain WSGI app: the endpoints of CONTRACT.md plus a loopback-only control API.

Per request, in order: control paths (``/__sandbox/…``, loopback clients only, no token); injected
latency and faults; the rate-limit budget; the bearer token (401) and its scopes (403); the route
(404/405); the handler, which holds the state lock for its whole run. Every answer carries the
three ``X-Rate-Limit-*`` headers and, when it is an error, ``{"errors": [{"message": …}]}``.
"""

from __future__ import annotations

import hmac
import json
import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from functools import cached_property
from typing import Any
from urllib.parse import parse_qs, quote

from reconciler.loopback import is_loopback_host
from reconciler.sandbox import fields as F
from reconciler.sandbox.faults import ConnectionDropped, FaultConfigError, FaultRule, Faults
from reconciler.sandbox.state import (
    Action,
    Pipeline,
    Project,
    SandboxState,
    new_pipeline_fields,
    stored_action_fields,
)

DEFAULT_TOKEN = "sandbox-token"
ALL_SCOPES = frozenset({"WORKSPACE", "EXECUTION_INFO", "EXECUTION_MANAGE", "PIPELINE_READ", "PIPELINE_WRITE"})
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
LOG_SIZE = 1000

StartResponse = Callable[..., Any]
Environ = dict[str, Any]

_REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
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

ROUTE_PIPELINES = "/pipelines"
ROUTE_PIPELINE = "/pipelines/:pipeline_id"
ROUTE_ACTIONS = "/pipelines/:pipeline_id/actions"
ROUTE_ACTION = "/pipelines/:pipeline_id/actions/:action_id"
_ALLOWED = {
    ROUTE_PIPELINES: ("GET", "POST"),
    ROUTE_PIPELINE: ("GET", "PATCH", "DELETE"),
    ROUTE_ACTIONS: ("GET", "POST"),
    ROUTE_ACTION: ("GET", "PATCH", "DELETE"),
}


@dataclass
class Switches:
    """Behaviours the documentation leaves open; the defaults are CONTRACT.md's **Decision** lines."""

    #: ``after_action_id: 0`` puts a new action first (undocumented; off: 0 is a 400 like any unknown id)
    insert_first: bool = False
    #: PATCH ``after_action_id`` moves the action (undocumented; off: validated, then ignored)
    move_on_patch: bool = False
    #: read-only fields (``url``, ``id``, ``last_execution_status``, …) in a body: 400 (off: ignored)
    reject_read_only: bool = False
    #: ``per_page`` above 100: "clamp" to 100, or "error" (400)
    per_page_over_max: str = "clamp"
    #: leave out of GET the multi-arch fields the 2026 RESPONSE BODY does not list
    #: (``target_path``, ``use_image_from_action``, ``docker_build_action_id``/``_name``, ``image_location``)
    hide_request_only_fields: bool = False
    #: store ``target_platform`` without spaces around commas (an example of a server normalisation)
    normalize_target_platform: bool = False
    #: ``run_only_on_first_failure`` is required with ``trigger_time: ON_FAILURE`` and refused without it
    on_failure_rule: bool = True
    #: status of a successful action POST (the 2026 page says 200, the contract 201)
    action_create_status: int = 201

    def update(self, values: Mapping[str, Any]) -> None:
        """Set switches by name; an unknown name or a wrong type is a ``ValueError``."""
        known = {f.name: f for f in fields(self)}
        for key, value in values.items():
            if key not in known:
                raise ValueError(f"unknown switch {key!r} (one of {', '.join(sorted(known))})")
            current = getattr(self, key)
            if type(value) is not type(current):
                raise ValueError(f"switch {key} must be a {type(current).__name__}")
            if key == "per_page_over_max" and value not in ("clamp", "error"):
                raise ValueError("per_page_over_max must be 'clamp' or 'error'")
            if key == "action_create_status" and value not in (200, 201):
                raise ValueError("action_create_status must be 200 or 201")
            setattr(self, key, value)


class RateLimiter:
    """A fixed-window request budget; ``take`` spends one request of it."""

    def __init__(self, limit: int = 1_000_000, window_s: float = 3600.0, clock: Callable[[], float] = time.time):
        self._lock = threading.Lock()
        self._clock = clock
        self.configure(limit, window_s)

    def configure(self, limit: int, window_s: float) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError("the rate limit needs limit >= 1 and window_s > 0")
        with self._lock:
            self.limit = limit
            self.window_s = window_s
            self._used = 0
            self._reset_at = self._clock() + window_s

    def _roll(self, now: float) -> None:
        if now >= self._reset_at:
            self._used = 0
            self._reset_at = now + self.window_s

    def take(self) -> tuple[bool, dict[str, str], float]:
        """Spend one request: (allowed, headers, seconds until the window resets)."""
        with self._lock:
            now = self._clock()
            self._roll(now)
            allowed = self._used < self.limit
            if allowed:
                self._used += 1
            return allowed, self._headers(), self._reset_at - now

    def peek(self) -> dict[str, str]:
        with self._lock:
            self._roll(self._clock())
            return self._headers()

    def _headers(self) -> dict[str, str]:
        return {
            "X-Rate-Limit-Limit": str(self.limit),
            "X-Rate-Limit-Remaining": str(max(0, self.limit - self._used)),
            "X-Rate-Limit-Reset": str(math.ceil(self._reset_at)),
        }


class ApiProblem(Exception):
    """An error answer: status and the message for ``{"errors": [{"message": …}]}``."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


@dataclass(frozen=True)
class Request:
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
        return f"{self.base}{_prefix(self.params)}"

    @cached_property
    def html_project(self) -> str:
        return f"{self.base}/{_q(self.params['workspace'])}/{_q(self.params['project'])}"

    def body(self) -> dict[str, Any]:
        """The JSON object in the body; anything else is a 400."""
        try:
            length = int(self.environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise ApiProblem(400, "Invalid Content-Length") from None
        raw = self.environ["wsgi.input"].read(length) if length > 0 else b""
        if not raw.strip():
            raise ApiProblem(400, "The request body must be a JSON object")
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise ApiProblem(400, "The request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise ApiProblem(400, "The request body must be a JSON object")
        return data


class Stats:
    """Counts of what the app was asked, for tests: by method, by "METHOD /route", by status."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.total = 0
            self.by_method: Counter[str] = Counter()
            self.by_route: Counter[str] = Counter()
            self.by_status: Counter[str] = Counter()
            self.faults: Counter[str] = Counter()
            self.log: deque[dict[str, Any]] = deque(maxlen=LOG_SIZE)

    def record(self, method: str, path: str, route: str | None, status: int | None, fault: str | None) -> None:
        with self._lock:
            self.total += 1
            self.by_method[method] += 1
            self.by_route[f"{method} {route or '(unmatched)'}"] += 1
            self.by_status[str(status) if status is not None else "dropped"] += 1
            if fault:
                self.faults[fault] += 1
            self.log.append({"method": method, "path": path, "status": status, "fault": fault})

    def to_dict(self, *, with_log: bool = False) -> dict[str, Any]:
        with self._lock:
            out: dict[str, Any] = {
                "total": self.total,
                "by_method": dict(self.by_method),
                "by_route": dict(self.by_route),
                "by_status": dict(self.by_status),
                "faults": dict(self.faults),
            }
            if with_log:
                out["log"] = list(self.log)
            return out


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
        rate_limit: int = 1_000_000,
        rate_window_s: float = 3600.0,
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

    def remove_token(self, token: str) -> None:
        self._tokens.pop(token, None)

    def stats(self, *, with_log: bool = False) -> dict[str, Any]:
        """``{"total", "by_method", "by_route", "by_status", "faults"}`` (and ``log``, the last
        requests: method, path, status, fault) of the Buddy API requests since the last reset."""
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

    def clear_faults(self) -> None:
        self.faults.clear()

    def set_switches(self, **values: Any) -> None:
        self.switches.update(values)

    def set_rate_limit(self, limit: int, window_s: float = 3600.0) -> None:
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
            return self._control(environ, start_response, method, path)
        route, params = _match(path)
        decision = self.faults.decide(method, route or path)
        if decision.delay_s > 0:
            self._sleep(decision.delay_s)  # per request: the server runs each request on its own thread
        status, headers, payload, fault = self._answer(environ, method, path, route, params, decision)
        self._stats.record(method, path, route, None if fault and "drop" in fault else status, fault)
        if fault and "drop" in fault:
            raise ConnectionDropped()
        return _respond(start_response, status, headers, payload)

    def _answer(
        self,
        environ: Environ,
        method: str,
        path: str,
        route: str | None,
        params: dict[str, str],
        decision: Any,
    ) -> tuple[int, dict[str, str], Any, str | None]:
        pre = decision.pre
        if pre is not None:
            if pre.kind == "drop":
                return 0, {}, None, "drop"
            if pre.kind == "error":
                return pre.status, self.rate_limiter.peek(), _error_body("Injected server error"), "error"
            headers = self.rate_limiter.peek()
            headers["X-Rate-Limit-Remaining"] = "0"
            headers["X-Rate-Limit-Reset"] = str(math.ceil(self._clock() + pre.retry_after))
            headers["Retry-After"] = str(pre.retry_after)
            return 429, headers, _error_body("Too many requests"), "rate_limit"
        allowed, headers, wait = self.rate_limiter.take()
        if not allowed:
            headers["Retry-After"] = str(max(1, math.ceil(wait)))
            return 429, headers, _error_body("Rate limit exceeded"), None
        try:
            self._authorize(environ, method)
            if route is None:
                raise ApiProblem(404, "Not found")
            if method not in _ALLOWED[route]:
                raise ApiProblem(405, f"Method {method} is not allowed here", {"Allow": ", ".join(_ALLOWED[route])})
            request = Request(
                method, path, route, params, parse_qs(environ.get("QUERY_STRING", "")), _base(environ), environ
            )
            status, payload = self._dispatch(request)
        except ApiProblem as problem:
            headers.update(problem.headers)
            return problem.status, headers, _error_body(problem.message), None
        commit = decision.commit
        if commit is not None and status < 300 and self.faults.spend(commit):
            if commit.kind == "commit_then_drop":
                return 0, {}, None, "commit_then_drop"
            return commit.status, headers, _error_body("Injected server error"), "commit_then_error"
        return status, headers, payload, None

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

    # -- the Buddy API -------------------------------------------------------------------------------

    def _dispatch(self, req: Request) -> tuple[int, Any]:
        state = self._state
        with state.lock:
            project = self._project(state, req.params["workspace"], req.params["project"])
            if req.route == ROUTE_PIPELINES:
                if req.method == "GET":
                    return 200, self._list_pipelines(req, project)
                return 201, self._create_pipeline(req, state, project)
            pipeline = self._pipeline(state, req)
            if req.route == ROUTE_PIPELINE:
                if req.method == "GET":
                    return 200, self._pipeline_view(req, pipeline)
                if req.method == "PATCH":
                    return 200, self._patch_pipeline(req, state, project, pipeline)
                state.remove_pipeline(req.params["workspace"], req.params["project"], pipeline.id)
                state.save()
                return 204, None
            if req.route == ROUTE_ACTIONS:
                if req.method == "GET":
                    return 200, self._list_actions(req, pipeline)
                created = self._create_action(req, state, pipeline)
                return self.switches.action_create_status, created
            action = self._action(req, pipeline)
            if req.method == "GET":
                return 200, self._action_view(req, pipeline, action)
            if req.method == "PATCH":
                return 200, self._patch_action(req, state, pipeline, action)
            self._refuse_yaml(pipeline)
            pipeline.actions.remove(action)
            state.save()
            return 204, None

    @staticmethod
    def _project(state: SandboxState, workspace: str, project: str) -> Project:
        if not state.has_workspace(workspace):
            raise ApiProblem(404, f"Workspace {workspace!r} not found")
        found = state.project(workspace, project)
        if found is None:
            raise ApiProblem(404, f"Project {project!r} not found")
        return found

    @staticmethod
    def _pipeline(state: SandboxState, req: Request) -> Pipeline:
        pipeline_id = _int_id(req.params["pipeline_id"])
        found = state.pipeline(req.params["workspace"], req.params["project"], pipeline_id) if pipeline_id else None
        if found is None:
            raise ApiProblem(404, f"Pipeline {req.params['pipeline_id']} not found")
        return found

    @staticmethod
    def _action(req: Request, pipeline: Pipeline) -> Action:
        action_id = _int_id(req.params["action_id"])
        found = pipeline.action(action_id) if action_id else None
        if found is None:
            raise ApiProblem(404, f"Action {req.params['action_id']} not found")
        return found

    def _page(self, req: Request, items: list[Any]) -> list[Any]:
        page = _query_int(req.query, "page", 1)
        per_page = _query_int(req.query, "per_page", DEFAULT_PER_PAGE)
        if per_page > MAX_PER_PAGE:
            if self.switches.per_page_over_max == "error":
                raise ApiProblem(400, f"per_page must be at most {MAX_PER_PAGE}")
            per_page = MAX_PER_PAGE
        start = (page - 1) * per_page
        return items[start : start + per_page]

    # pipelines

    def _list_pipelines(self, req: Request, project: Project) -> dict[str, Any]:
        return {
            "url": f"{req.api_project}/pipelines",
            "html_url": f"{req.html_project}/pipelines",
            "pipelines": [self._pipeline_summary(req, p) for p in self._page(req, project.pipelines)],
        }

    def _create_pipeline(self, req: Request, state: SandboxState, project: Project) -> dict[str, Any]:
        body = self._clean_body(req.body(), F.PIPELINE_FIELDS, F.PIPELINE_READ_ONLY, "pipeline")
        try:
            stored = new_pipeline_fields(body, project, now=self._clock())
        except F.FieldError as exc:
            raise ApiProblem(400, f"Invalid field {exc.path}: {exc.message}") from None
        pipeline = Pipeline(state.new_id(), stored)
        state.add_pipeline(req.params["workspace"], req.params["project"], pipeline)
        state.save()
        return self._pipeline_view(req, pipeline)

    def _patch_pipeline(
        self, req: Request, state: SandboxState, project: Project, pipeline: Pipeline
    ) -> dict[str, Any]:
        body = self._clean_body(req.body(), F.PIPELINE_FIELDS, F.PIPELINE_READ_ONLY, "pipeline")
        updates: dict[str, Any] = {}
        for key, value in body.items():
            try:
                updates[key] = F.check(value, F.PIPELINE_FIELDS[key], key)
            except F.FieldError as exc:
                raise ApiProblem(400, f"Invalid field {exc.path}: {exc.message}") from None
        if "name" in updates and (not isinstance(updates["name"], str) or not updates["name"].strip()):
            raise ApiProblem(400, "Invalid field name: must not be empty")
        if "identifier" in updates:
            if updates["identifier"] is None:
                raise ApiProblem(400, "Invalid field identifier: must not be empty")
            others = {p.fields.get("identifier") for p in project.pipelines if p.id != pipeline.id}
            if updates["identifier"] in others:
                raise ApiProblem(400, f"Invalid field identifier: {updates['identifier']!r} is already used")
        for key, value in F.PIPELINE_DEFAULTS.items():
            if key in updates and updates[key] is None:
                updates[key] = value
        pipeline.fields.update(updates)
        state.save()
        return self._pipeline_view(req, pipeline)

    def _pipeline_urls(self, req: Request, pipeline: Pipeline) -> dict[str, Any]:
        return {
            "url": f"{req.api_project}/pipelines/{pipeline.id}",
            "html_url": f"{req.html_project}/pipelines/pipeline/{pipeline.id}",
            "id": pipeline.id,
        }

    def _pipeline_summary(self, req: Request, pipeline: Pipeline) -> dict[str, Any]:
        f = pipeline.fields
        return {
            **self._pipeline_urls(req, pipeline),
            "name": f["name"],
            "identifier": f["identifier"],
            "refs": f.get("refs"),
            "events": f.get("events"),
            "priority": f.get("priority"),
            "disabled": f.get("disabled"),
            "definition_source": f.get("definition_source"),
            "git_config_ref": f.get("git_config_ref"),
            "create_date": f.get("create_date"),
            "last_execution_status": f.get("last_execution_status"),
        }

    def _pipeline_view(self, req: Request, pipeline: Pipeline) -> dict[str, Any]:
        f = pipeline.fields
        project = req.params["project"]
        view: dict[str, Any] = {**self._pipeline_urls(req, pipeline), "name": f["name"]}
        for key in F.PIPELINE_FIELDS:
            view[key] = f.get(key)
        view.update(
            {
                "create_date": f.get("create_date"),
                "last_execution_status": f.get("last_execution_status"),
                "last_execution_revision": f.get("last_execution_revision"),
                "project": {
                    "url": req.api_project,
                    "html_url": req.html_project,
                    "name": project,
                    "display_name": project,
                },
                "creator": {"id": 1, "name": "Sandbox", "email": "sandbox@localhost", "admin": True},
                "actions": [self._action_summary(req, pipeline, a) for a in pipeline.actions],
            }
        )
        return view

    # actions

    def _list_actions(self, req: Request, pipeline: Pipeline) -> dict[str, Any]:
        urls = self._pipeline_urls(req, pipeline)
        return {
            "url": f"{urls['url']}/actions",
            "html_url": urls["html_url"],
            "actions": [self._action_summary(req, pipeline, a) for a in self._page(req, pipeline.actions)],
        }

    def _action_urls(self, req: Request, pipeline: Pipeline, action: Action) -> dict[str, Any]:
        return {
            "url": f"{req.api_project}/pipelines/{pipeline.id}/actions/{action.id}",
            "html_url": f"{req.html_project}/pipelines/pipeline/{pipeline.id}/action/{action.id}",
            "id": action.id,
        }

    def _action_summary(self, req: Request, pipeline: Pipeline, action: Action) -> dict[str, Any]:
        return {
            **self._action_urls(req, pipeline, action),
            "name": action.name,
            "type": action.type,
            "trigger_time": action.fields.get("trigger_time"),
            "status": action.fields.get("last_execution_status"),
            "revision": action.revision,
        }

    def _action_view(self, req: Request, pipeline: Pipeline, action: Action) -> dict[str, Any]:
        view: dict[str, Any] = {**self._action_urls(req, pipeline, action), "name": action.name, "type": action.type}
        hide = (
            F.MULTI_ARCH_REQUEST_ONLY if self.switches.hide_request_only_fields and action.type == F.MULTI_ARCH else ()
        )
        for key, value in action.fields.items():
            if key not in view and key not in hide:
                view[key] = value
        purls = self._pipeline_urls(req, pipeline)
        view["pipeline"] = {
            "url": purls["url"],
            "html_url": purls["html_url"],
            "id": pipeline.id,
            "name": pipeline.name,
        }
        return view

    def _create_action(self, req: Request, state: SandboxState, pipeline: Pipeline) -> dict[str, Any]:
        raw = req.body()
        action_type = raw.get("type")
        if not isinstance(action_type, str) or not action_type:
            raise ApiProblem(400, "Invalid field type: is required")
        table = F.action_fields_for(action_type)
        body = self._clean_body(raw, table, F.ACTION_READ_ONLY, "action", open_=action_type != F.MULTI_ARCH)
        after_id = body.pop("after_action_id", None)
        if not isinstance(body.get("name"), str) or not body["name"].strip():
            raise ApiProblem(400, "Invalid field name: is required")
        self._refuse_yaml(pipeline)
        position = self._position(pipeline, after_id, exclude=None)
        try:
            stored = stored_action_fields(body)
        except F.FieldError as exc:
            raise ApiProblem(400, f"Invalid field {exc.path}: {exc.message}") from None
        defaults = F.MULTI_ARCH_DEFAULTS if action_type == F.MULTI_ARCH else F.ACTION_DEFAULTS
        for key, value in defaults.items():
            if stored.get(key) is None:
                stored[key] = value
        stored["last_execution_status"] = "INITIAL"
        self._server_rules(stored, touched=set(body))
        action = Action(state.new_id(), stored)
        pipeline.actions.insert(position if position is not None else len(pipeline.actions), action)
        state.save()
        return self._action_view(req, pipeline, action)

    def _patch_action(self, req: Request, state: SandboxState, pipeline: Pipeline, action: Action) -> dict[str, Any]:
        raw = req.body()
        if "type" in raw and raw["type"] != action.type:
            raise ApiProblem(
                400,
                "You can't change the type of an existing action. "
                "To change the type, remove the action and add it again.",
            )
        table = F.action_fields_for(action.type)
        body = self._clean_body(raw, table, F.ACTION_READ_ONLY, "action", open_=action.type != F.MULTI_ARCH)
        after_present = "after_action_id" in body
        after_id = body.pop("after_action_id", None)
        if "name" in body and (not isinstance(body["name"], str) or not body["name"].strip()):
            raise ApiProblem(400, "Invalid field name: must not be empty")
        self._refuse_yaml(pipeline)
        position = self._position(pipeline, after_id, exclude=action.id) if after_present else None
        updates: dict[str, Any] = {}
        for key, value in body.items():
            try:
                if key in table:
                    updates[key] = F.check(value, table[key], key)
                else:
                    updates[key] = value  # a field of a type the sandbox does not model
            except F.FieldError as exc:
                raise ApiProblem(400, f"Invalid field {exc.path}: {exc.message}") from None
            if key in F.SECRET_ACTION_FIELDS and isinstance(updates[key], str):
                updates[key] = F.encrypt(updates[key])
        defaults = F.MULTI_ARCH_DEFAULTS if action.type == F.MULTI_ARCH else F.ACTION_DEFAULTS
        for key, value in defaults.items():
            if key in updates and updates[key] is None:
                updates[key] = value
        merged = {**action.fields, **updates}
        self._server_rules(merged, touched=set(body))
        changed = merged != action.fields
        if changed:
            action.fields = merged
            action.revision += 1
        if after_present and self.switches.move_on_patch and after_id != action.id:
            pipeline.actions.remove(action)
            # recompute: the anchor's index shifted when the action left its place
            new_position = self._position(pipeline, after_id, exclude=action.id)
            pipeline.actions.insert(new_position if new_position is not None else len(pipeline.actions), action)
            changed = changed or position != new_position
        if changed:
            state.save()
        return self._action_view(req, pipeline, action)

    def _position(self, pipeline: Pipeline, after_id: Any, *, exclude: int | None) -> int | None:
        """Index for a new action placed after ``after_id`` (None: at the end)."""
        if after_id is None:
            return None
        if not isinstance(after_id, int) or isinstance(after_id, bool):
            raise ApiProblem(400, "Invalid field after_action_id: must be an integer")
        if after_id == 0 and self.switches.insert_first:
            return 0
        try:
            return pipeline.index_of(after_id) + 1
        except KeyError:
            raise ApiProblem(
                400, f"Invalid field after_action_id: {after_id} is not an action of pipeline {pipeline.id}"
            ) from None

    def _server_rules(self, stored: dict[str, Any], *, touched: set[str]) -> None:
        """Cross-field rules of the 2026 page, checked on the object as it would be stored."""
        if self.switches.normalize_target_platform and isinstance(stored.get("target_platform"), str):
            parts = [p.strip() for p in stored["target_platform"].split(",")]
            stored["target_platform"] = ",".join(p for p in parts if p)
        if not self.switches.on_failure_rule or not touched & {"trigger_time", "run_only_on_first_failure"}:
            return
        on_failure = stored.get("trigger_time") == "ON_FAILURE"
        flag = stored.get("run_only_on_first_failure")
        if on_failure and flag is None:
            raise ApiProblem(400, "Invalid field run_only_on_first_failure: required when trigger_time is ON_FAILURE")
        if not on_failure and flag is not None:
            if "run_only_on_first_failure" in touched:
                raise ApiProblem(
                    400, "Invalid field run_only_on_first_failure: allowed only when trigger_time is ON_FAILURE"
                )
            stored["run_only_on_first_failure"] = None  # the trigger moved away from ON_FAILURE

    @staticmethod
    def _refuse_yaml(pipeline: Pipeline) -> None:
        if pipeline.yaml_defined:
            raise ApiProblem(400, f"Pipeline {pipeline.id} is defined in YAML: change its actions in the YAML file")

    def _clean_body(
        self,
        body: dict[str, Any],
        table: Mapping[str, Any],
        read_only: frozenset[str],
        what: str,
        *,
        open_: bool = False,
    ) -> dict[str, Any]:
        """Drop (or refuse) read-only fields and refuse unknown ones; ``open_`` keeps unknown ones
        (action types the sandbox does not model)."""
        out: dict[str, Any] = {}
        for key, value in body.items():
            if key in read_only:
                if self.switches.reject_read_only:
                    raise ApiProblem(400, f"Invalid field {key}: read-only")
                continue
            if key not in table and key != "after_action_id" and not open_:
                raise ApiProblem(400, f"Unknown {what} field {key!r}")
            if key == "after_action_id" and what != "action":
                raise ApiProblem(400, f"Unknown {what} field {key!r}")
            out[key] = value
        return out

    # -- the control API -----------------------------------------------------------------------------

    def _control(self, environ: Environ, start_response: StartResponse, method: str, path: str) -> Iterable[bytes]:
        headers = self.rate_limiter.peek()
        if not is_loopback_host(str(environ.get("REMOTE_ADDR", ""))):
            return _respond(start_response, 403, headers, _error_body("The sandbox control API is loopback-only"))
        query = parse_qs(environ.get("QUERY_STRING", ""))
        try:
            status, payload = self._control_dispatch(environ, method, path.rstrip("/"), query)
        except ApiProblem as problem:
            status, payload = problem.status, _error_body(problem.message)
        except (ValueError, FaultConfigError) as exc:
            status, payload = 400, _error_body(str(exc))
        return _respond(start_response, status, headers, payload)

    def _control_dispatch(
        self, environ: Environ, method: str, path: str, query: dict[str, list[str]]
    ) -> tuple[int, Any]:
        def body(optional: bool = False) -> dict[str, Any]:
            request = Request(method, path, None, {}, query, "", environ)
            try:
                return request.body()
            except ApiProblem:
                if optional:
                    return {}
                raise

        key = (method, path)
        if key == ("GET", "/__sandbox/health"):
            return 200, {"ok": True}
        if key == ("GET", "/__sandbox/stats"):
            return 200, self.stats(with_log="log" in query)
        if key == ("POST", "/__sandbox/stats/reset"):
            self.reset_stats()
            return 200, self.stats()
        if key == ("GET", "/__sandbox/state"):
            return 200, self._state.to_data()
        if key == ("POST", "/__sandbox/reset"):
            seed = _query_int(query, "seed", 0) if "seed" in query else None
            data = body(optional=True).get("state")
            try:
                self.reset(data=data, seed=seed)
            except Exception as exc:  # a SandboxError from a bad seed: the caller's mistake
                raise ApiProblem(400, str(exc)) from None
            return 200, {"ok": True}
        if path == "/__sandbox/faults":
            if method == "POST":
                self.faults.configure_from_json(body())
            elif method == "DELETE":
                self.clear_faults()
            elif method != "GET":
                raise ApiProblem(405, "GET, POST or DELETE")
            return 200, self.faults.to_dict()
        if path == "/__sandbox/switches":
            if method == "POST":
                self.switches.update(body())
            elif method != "GET":
                raise ApiProblem(405, "GET or POST")
            return 200, asdict(self.switches)
        if path == "/__sandbox/rate-limit":
            if method == "POST":
                data = body()
                self.set_rate_limit(int(data.get("limit", 1_000_000)), float(data.get("window_s", 3600.0)))
            elif method != "GET":
                raise ApiProblem(405, "GET or POST")
            return 200, {"limit": self.rate_limiter.limit, "window_s": self.rate_limiter.window_s}
        if key == ("POST", "/__sandbox/tokens"):
            data = body()
            token, scopes = data.get("token"), data.get("scopes", [])
            if not isinstance(token, str) or not isinstance(scopes, list):
                raise ApiProblem(400, 'expected {"token": str, "scopes": [str]}')
            self.add_token(token, [str(s) for s in scopes])
            return 200, {"scopes": sorted(self._tokens[token])}  # the token itself is never echoed
        raise ApiProblem(404, "Unknown sandbox control endpoint")


# -- helpers ---------------------------------------------------------------------------------------


def _match(path: str) -> tuple[str | None, dict[str, str]]:
    parts = path.strip("/").split("/")
    if len(parts) < 5 or parts[0] != "workspaces" or parts[2] != "projects" or parts[4] != "pipelines":
        return None, {}
    params = {"workspace": parts[1], "project": parts[3]}
    rest = parts[5:]
    if not rest:
        return ROUTE_PIPELINES, params
    params["pipeline_id"] = rest[0]
    if len(rest) == 1:
        return ROUTE_PIPELINE, params
    if rest[1] != "actions" or len(rest) > 3:
        return None, {}
    if len(rest) == 2:
        return ROUTE_ACTIONS, params
    params["action_id"] = rest[2]
    return ROUTE_ACTION, params


def _int_id(text: str) -> int:
    return int(text) if text.isdigit() else 0


def _query_int(query: Mapping[str, list[str]], key: str, default: int) -> int:
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


def _q(segment: str) -> str:
    return quote(segment, safe="")


def _prefix(params: Mapping[str, str]) -> str:
    return f"/workspaces/{_q(params['workspace'])}/projects/{_q(params['project'])}"


def _base(environ: Environ) -> str:
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST")
    if not host:
        host = f"{environ.get('SERVER_NAME', '127.0.0.1')}:{environ.get('SERVER_PORT', '80')}"
    return f"{scheme}://{host}"


def _error_body(message: str) -> dict[str, Any]:
    return {"errors": [{"message": message}]}


def _respond(start_response: StartResponse, status: int, headers: dict[str, str], payload: Any) -> list[bytes]:
    data = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode("utf-8")
    out = [(k, v) for k, v in headers.items()]
    if payload is not None:
        out.append(("Content-Type", "application/json"))
    out.append(("Content-Length", str(len(data))))
    start_response(f"{status} {_REASONS.get(status, 'Error')}", out)
    return [data]
