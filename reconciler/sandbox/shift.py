"""The shift fault: the list moves between two page reads, as when a person edits the project in the UI.

A fault rule of kind ``shift`` (``--fault shift:mode=insert,route=/pipelines/:pipeline_id/actions``,
``{"kind": "shift", "mode": "remove", "count": 1}``, ``SandboxApp.set_shift("insert")``) fires on a GET
of a list (the pipeline list or an action list) asking for page 2 or later, so always between two page
reads of one client's walk through the list. Just before that page is served:

* ``insert`` adds an item in front of the list: a new ``BUILD`` action named ``inserted <id>`` first
  in the pipeline, or a new pipeline named ``inserted <id>`` first in the project's stored order (the
  order of a list read without ``sort_by``; read sorted by id it lands at the end, as on Buddy, since
  ids only grow). Every item after it moves one place on, so one item is served twice.
* ``remove`` deletes the first item of the list as this request would serve it (with its sort):
  every item after it moves one place back, so one item is never served.

The rule's count is spent only when it fires (a page 1, or a list with nothing to remove, keeps it).
"""

from __future__ import annotations

from collections.abc import Callable

from reconciler.sandbox.handlers import ROUTE_ACTIONS, ROUTE_PIPELINES, sorted_pipelines
from reconciler.sandbox.state import Action, Pipeline, Project, SandboxState, new_action_fields, new_pipeline_fields
from reconciler.sandbox.wsgi import Request, query_int

MODES = ("insert", "remove")
ROUTES = frozenset({ROUTE_PIPELINES, ROUTE_ACTIONS})


def applies(method: str, route: str) -> bool:
    """True for the requests a shift can fire on (a GET of a list); the page is checked on firing."""
    return method == "GET" and route in ROUTES


def shift(state: SandboxState, req: Request, mode: str, spend: Callable[[], bool], now: float) -> bool:
    """Move the list ``req`` reads when it asks for page 2 or later (``spend`` uses up the rule's
    count and says whether it was still there); True when the list moved."""
    if not applies(req.method, req.route or "") or query_int(req.query, "page", 1) < 2:
        return False
    workspace, name = req.params["workspace"], req.params["project"]
    with state.lock:
        project = state.project(workspace, name)
        if project is None:
            return False
        if req.route == ROUTE_PIPELINES:
            moved = _shift_pipelines(state, req, project, mode, spend, now)
        else:
            ident = req.params["pipeline_id"]
            pipeline = state.pipeline(workspace, name, int(ident)) if ident.isdigit() else None
            moved = pipeline is not None and _shift_actions(state, pipeline, mode, spend)
        if moved:
            state.save()
        return moved


def _shift_pipelines(
    state: SandboxState, req: Request, project: Project, mode: str, spend: Callable[[], bool], now: float
) -> bool:
    workspace, name = req.params["workspace"], req.params["project"]
    if mode == "remove":
        served = sorted_pipelines(req, project.pipelines)
        if not served or not spend():
            return False
        state.remove_pipeline(workspace, name, served[0].id)
        return True
    if not spend():
        return False
    ident = state.new_id()
    state.add_pipeline(
        workspace, name, Pipeline(ident, new_pipeline_fields({"name": f"inserted {ident}"}, project, now=now))
    )
    project.pipelines.insert(0, project.pipelines.pop())  # first in the stored order
    return True


def _shift_actions(state: SandboxState, pipeline: Pipeline, mode: str, spend: Callable[[], bool]) -> bool:
    if mode == "remove":
        if not pipeline.actions or not spend():
            return False
        pipeline.actions.pop(0)
        return True
    if not spend():
        return False
    ident = state.new_id()
    pipeline.actions.insert(0, Action(ident, new_action_fields({"name": f"inserted {ident}", "type": "BUILD"})))
    return True
