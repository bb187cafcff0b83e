"""A saved rename onto a name taken meanwhile is stale, and every pipeline an apply touched is checked
for a shared name afterwards (issue 23, item 1). Against the sandbox over real HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support import served, writes

from reconciler import engine
from reconciler.apply import ApplyOptions, Looks
from reconciler.errors import StalePlanError
from reconciler.plan.diff import Options
from reconciler.plan.planfile import plan_from_json

OPTIONS = Options()
QUICK = Looks(delays=(0.0,), sleep=lambda _s: None)


def seed(*names: str) -> dict[str, Any]:
    pipelines = [{"id": 7 + i, "name": name, "actions": []} for i, name in enumerate(names)]
    return {"workspaces": {"acme": {"projects": {"web": {"pipelines": pipelines}}}}}


@pytest.fixture
def renaming(tmp_path: Path) -> Path:
    (tmp_path / "web.yml").write_text(
        "workspace: acme\nproject: web\npipelines:\n  - {name: Q, previous_names: [P], actions: []}\n"
    )
    return tmp_path


def pipeline_names(app: Any) -> list[str]:
    return sorted(p.name for _w, _pr, p in app.state.iter_pipelines())


def test_a_saved_rename_onto_a_name_taken_meanwhile_is_refused_with_no_write(renaming: Path) -> None:
    with served(seed("P")) as (app, client):
        plan = engine.plan(engine.given(client), [renaming], OPTIONS)
        assert [c.kind for c in plan.changes] == ["update_pipeline"]
        saved = plan_from_json(json.loads(json.dumps(plan.to_json())))
        client.create_pipeline("acme", "web", {"name": "Q"})  # someone else, after the plan
        app.reset_stats()
        with pytest.raises(StalePlanError, match='pipeline "Q" now exists'):
            engine.apply_saved(engine.given(client), saved, OPTIONS, ApplyOptions(looks=QUICK))
        assert writes(app) == 0
        assert pipeline_names(app) == ["P", "Q"]


def test_a_saved_rename_onto_a_free_name_still_applies(renaming: Path) -> None:
    with served(seed("P")) as (app, client):
        saved = plan_from_json(json.loads(json.dumps(engine.plan(engine.given(client), [renaming], OPTIONS).to_json())))
        report = engine.apply_saved(engine.given(client), saved, OPTIONS, ApplyOptions(looks=QUICK))
        assert report.ok and pipeline_names(app) == ["Q"]


def test_a_rename_that_leaves_two_pipelines_with_one_name_is_an_error_after_apply(tmp_path: Path) -> None:
    # Q is taken at plan time (the plan warns), so the check before the apply lets it through: the one after
    # the apply must still see the two pipelines named Q
    (tmp_path / "web.yml").write_text("workspace: acme\nproject: web\npipelines:\n  - {id: 7, name: Q, actions: []}\n")
    with served(seed("P", "Q")) as (app, client):
        _plan, report = engine.apply(engine.given(client), [tmp_path], OPTIONS, ApplyOptions(looks=QUICK))
    assert pipeline_names(app) == ["Q", "Q"]
    [error] = report.errors
    assert '2 live pipelines are named "Q" (#7, #8)' in error
    assert "this apply created none of them (it changed #7)" in error and "another apply" not in error
