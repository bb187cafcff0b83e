"""The Buddy API of CONTRACT.md: routing and the handlers of pipelines and actions.

``BuddyApi.dispatch`` runs one routed request against the state, holding its lock for the whole
run, and answers ``(status, payload)`` or raises ``ApiProblem``. Field checks come from
``fields.py``; server defaults and stored forms from ``state.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from reconciler.sandbox import fields as F
from reconciler.sandbox.state import (
    Action,
    Pipeline,
    Project,
    SandboxState,
    action_defaults,
    new_action_fields,
    new_pipeline_fields,
    null_to_default,
)
from reconciler.sandbox.switches import Switches
from reconciler.sandbox.wsgi import ApiProblem, Request, field_problem, page_window

ROUTE_PIPELINES = "/pipelines"
ROUTE_PIPELINE = "/pipelines/:pipeline_id"
ROUTE_ACTIONS = "/pipelines/:pipeline_id/actions"
ROUTE_ACTION = "/pipelines/:pipeline_id/actions/:action_id"
LIST_ROUTES = frozenset({ROUTE_PIPELINES, ROUTE_ACTIONS})
CREATE_ROUTES = LIST_ROUTES
ALLOWED = {
    ROUTE_PIPELINES: ("GET", "POST"),
    ROUTE_PIPELINE: ("GET", "PATCH", "DELETE"),
    ROUTE_ACTIONS: ("GET", "POST"),
    ROUTE_ACTION: ("GET", "PATCH", "DELETE"),
}
#: the key of the list in a list answer, by route
LIST_KEYS = {ROUTE_PIPELINES: "pipelines", ROUTE_ACTIONS: "actions"}


def match(path: str, segments: list[str] | None = None) -> tuple[str | None, dict[str, str]]:
    """The route template of ``path`` and its parameters (``(None, {})`` when nothing matches);
    ``segments``: the path's segments, each decoded on its own (``wsgi.path_segments``)."""
    parts = segments if segments is not None else path.strip("/").split("/")
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


class BuddyApi:
    """The handlers; ``state`` is a callable so that a reset of the app swaps the state under them."""

    def __init__(self, state: Callable[[], SandboxState], switches: Switches, clock: Callable[[], float]) -> None:
        self._state = state
        self.switches = switches
        self._clock = clock

    def dispatch(self, req: Request) -> tuple[int, Any]:
        state = self._state()
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
                _refuse_yaml(pipeline)  # a pipeline defined in Buddy YAML is deleted through its YAML
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
            _refuse_yaml(pipeline)
            pipeline.actions.remove(action)
            state.save()
            return 204, None

    # -- lookups ---------------------------------------------------------------------------------------

    @staticmethod
    def _project(state: SandboxState, workspace: str, project: str) -> Project:
        if not state.has_workspace(workspace):
            raise ApiProblem(404, f"Workspace {workspace!r} not found")
        if state.api_disabled(workspace):
            raise ApiProblem(403, "API is disabled in this workspace")
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
        page, per_page = page_window(
            req.query, refuse_over_max=self.switches.per_page_over_max == "error", largest=self.switches.per_page_max
        )
        start = (page - 1) * per_page
        return items[start : start + per_page]

    # -- pipelines -------------------------------------------------------------------------------------

    def _list_pipelines(self, req: Request, project: Project) -> dict[str, Any]:
        return {
            "url": f"{req.api_project}/pipelines",
            "html_url": f"{req.html_project}/pipelines",
            "pipelines": [
                self._pipeline_summary(req, p) for p in self._page(req, sorted_pipelines(req, project.pipelines))
            ],
        }

    def _create_pipeline(self, req: Request, state: SandboxState, project: Project) -> dict[str, Any]:
        body = self._clean_body(req.body(), F.PIPELINE_FIELDS, F.PIPELINE_READ_ONLY, "pipeline")
        try:
            stored = new_pipeline_fields(body, project, now=self._clock())
        except F.FieldError as exc:
            raise field_problem(exc) from None
        pipeline = Pipeline(state.new_id(), stored)
        state.add_pipeline(req.params["workspace"], req.params["project"], pipeline)
        state.save()
        return self._pipeline_view(req, pipeline)

    def _patch_pipeline(
        self, req: Request, state: SandboxState, project: Project, pipeline: Pipeline
    ) -> dict[str, Any]:
        """PATCH /pipelines/:id: the fields sent, checked one by one; a read-only or unknown field,
        or a pipeline defined in Buddy YAML, is a 400."""
        raw = req.body()
        if pipeline.yaml_defined:
            raise ApiProblem(400, f"Pipeline {pipeline.id} is defined in YAML: change it in its YAML file")
        errors = F.pipeline_field_errors(raw)
        if errors:
            raise field_problem(errors[0])
        updates = {key: F.check(value, F.PIPELINE_FIELDS[key], key) for key, value in raw.items()}
        if "identifier" in updates:
            others = {p.fields.get("identifier") for p in project.pipelines if p.id != pipeline.id}
            if updates["identifier"] in others:
                raise ApiProblem(400, f"Invalid field identifier: {updates['identifier']!r} is already used")
        null_to_default(updates, F.PIPELINE_DEFAULTS)
        if any(pipeline.fields.get(k) != v for k, v in updates.items()):
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
        if self.switches.lean_summaries:  # all a summary is sure to carry (CONTRACT.md)
            return {**self._pipeline_urls(req, pipeline), "name": f["name"]}
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
        """Every pipeline field (``null`` when unset), the server's own fields and the actions."""
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

    # -- actions ---------------------------------------------------------------------------------------

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
        view["pipeline"] = self._pipeline_summary(req, pipeline)  # CONTRACT.md: "with a pipeline summary"
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
        _refuse_yaml(pipeline)
        position = self._position(pipeline, after_id)
        try:
            stored = new_action_fields(body)
        except F.FieldError as exc:
            raise field_problem(exc) from None
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
        _refuse_yaml(pipeline)
        position = self._position(pipeline, after_id) if after_present else None
        updates = null_to_default(_checked_updates(body, table), action_defaults(action.type))
        merged = {**action.fields, **updates}
        self._server_rules(merged, touched=set(body))
        changed = merged != action.fields
        if changed:
            action.fields = merged
            action.revision += 1
        if after_present and self.switches.move_on_patch and after_id != action.id:
            pipeline.actions.remove(action)
            # recompute: the anchor's index shifted when the action left its place
            new_position = self._position(pipeline, after_id)
            pipeline.actions.insert(new_position if new_position is not None else len(pipeline.actions), action)
            changed = changed or position != new_position
        if changed:
            state.save()
        return self._action_view(req, pipeline, action)

    def _position(self, pipeline: Pipeline, after_id: Any) -> int | None:
        """Index for an action placed after ``after_id`` (None: at the end)."""
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


def _checked_updates(body: Mapping[str, Any], table: Mapping[str, F.Spec]) -> dict[str, Any]:
    """The fields of a PATCH body in their stored form (write-only values encrypted)."""
    updates: dict[str, Any] = {}
    for key, value in body.items():
        try:
            # a field outside the table belongs to a type the sandbox does not model: kept as sent
            updates[key] = F.check(value, table[key], key) if key in table else F.unmodelled_field(key, value)
        except F.FieldError as exc:
            raise field_problem(exc) from None
        if key in F.SECRET_ACTION_FIELDS and isinstance(updates[key], str):
            updates[key] = F.encrypt(updates[key])
    return updates


def sorted_pipelines(req: Request, pipelines: list[Pipeline]) -> list[Pipeline]:
    """The pipeline list in the order ``sort_by`` (``id`` or ``name``) and ``sort_direction`` ask
    (without them, the order they were made in)."""
    by = (req.query.get("sort_by") or [""])[0]
    if by not in ("id", "name"):
        return pipelines
    descending = (req.query.get("sort_direction") or ["ASC"])[0].upper() == "DESC"
    if by == "id":
        return sorted(pipelines, key=lambda p: p.id, reverse=descending)
    return sorted(pipelines, key=lambda p: p.name, reverse=descending)


def _refuse_yaml(pipeline: Pipeline) -> None:
    if pipeline.yaml_defined:
        raise ApiProblem(400, f"Pipeline {pipeline.id} is defined in YAML: change its actions in the YAML file")
