"""--target / --exclude: shell-style patterns over workspace/project/pipeline aim a plan."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support import served

from reconciler import engine
from reconciler.errors import PlanError, UsageError
from reconciler.model import DesiredPipeline
from reconciler.plan.diff import Options
from reconciler.plan.planfile import load_plan_file, plan_file_text
from reconciler.plan.targets import Targeting
from reconciler.problems import Location

COUNT = 8


def declared(name: str | None, pipeline_id: int | None = None, project: str = "web") -> DesiredPipeline:
    return DesiredPipeline("acme", project, name, pipeline_id, None, {}, (), Location("f.yml", 1, 1), "f.yml")


def config(count: int = COUNT) -> str:
    pipelines = "".join(
        f"  - name: svc-{i}\n    actions:\n      - name: Build\n        type: DOCKER_BUILD_MULTI_ARCH\n"
        f"        dockerfile_path: Dockerfile.{i}\n"
        for i in range(count)
    )
    return f"workspace: acme\nproject: web\npipelines:\n{pipelines}"


def seed(count: int = COUNT) -> dict[str, Any]:
    pipelines = [
        {
            "id": 100 + i,
            "name": f"svc-{i}",
            "actions": [
                {"id": 1000 + i, "name": "Build", "type": "DOCKER_BUILD_MULTI_ARCH", "dockerfile_path": "Dockerfile"}
            ],
        }
        for i in range(count)
    ]
    return {"workspaces": {"acme": {"projects": {"web": {"pipelines": pipelines}}}}}


def plan_with(tmp_path: Path, targeting: Targeting | None) -> tuple[Any, int]:
    path = tmp_path / "web.yml"
    path.write_text(config(), encoding="utf-8")
    with served(seed()) as (app, client):
        made = engine.plan(engine.given(client), [path], Options(), targeting)
        requests = sum(app.stats()["by_method"].values())
    return made, requests


def test_patterns_match_the_address_shell_style_and_by_id():
    pipelines = [declared("Release images"), declared("svc-1"), declared("svc-2"), declared(None, 9)]
    kept, counted = Targeting(("acme/web/Release*", "acme/*/svc-[12]", "acme/web/#9"), ("*/svc-2",)).select(pipelines)
    assert [p.label for p in kept] == ["Release images", "svc-1", "#9"]
    assert (counted.declared, counted.selected) == (4, 3)


def test_no_pattern_keeps_every_pipeline():
    pipelines = [declared("a"), declared("b")]
    assert Targeting().select(pipelines)[0] == pipelines


def test_a_pattern_that_matches_no_declared_pipeline_is_an_error_naming_it():
    with pytest.raises(UsageError, match='"acme/web/Relase\\*"'):
        Targeting(("acme/web/Relase*",)).select([declared("Release images")])
    with pytest.raises(UsageError, match='"nope/\\*"'):
        Targeting((), ("nope/*",)).select([declared("Release images")])


def test_patterns_that_leave_no_pipeline_are_an_error_not_an_empty_plan():
    # an empty plan would say "Buddy matches the configuration" having read nothing
    with pytest.raises(UsageError, match="leave none of the 2 declared pipelines"):
        Targeting((), ("*",)).select([declared("a"), declared("b")])
    with pytest.raises(UsageError, match="leave none"):
        Targeting(("acme/web/a",), ("*/a",)).select([declared("a"), declared("b")])


def test_only_targeted_pipelines_are_read_so_requests_scale_with_the_target(tmp_path: Path):
    whole, all_requests = plan_with(tmp_path, None)
    one, one_request_set = plan_with(tmp_path, Targeting(("acme/web/svc-3",)))
    assert len(whole.changes) == COUNT and [c.pipeline for c in one.changes] == ["svc-3"]
    # per targeted pipeline: its action list and one GET; plus the project's pipeline list, once, with
    # one empty page after it: the first page of a run is short of nothing seen yet, so not proof of the end
    assert all_requests == 2 + 2 * COUNT
    assert one_request_set == 2 + 2


def test_a_targeted_plan_says_it_is_partial_in_its_warnings_and_its_json(tmp_path: Path):
    made, _ = plan_with(tmp_path, Targeting(("acme/web/svc-[01]",), ("*/svc-0",)))
    assert made.warnings[0].startswith(f"targeted: 1 of {COUNT} declared pipelines (--target acme/web/svc-[01]")
    assert made.to_json()["targeting"] == {
        "targets": ["acme/web/svc-[01]"],
        "excludes": ["*/svc-0"],
        "declared": COUNT,
        "selected": 1,
    }


def test_a_whole_plan_has_no_targeting_in_its_json(tmp_path: Path):
    made, _ = plan_with(tmp_path, None)
    assert "targeting" not in made.to_json()


def test_a_saved_plan_keeps_its_targets_and_refuses_changes_outside_them(tmp_path: Path):
    made, _ = plan_with(tmp_path, Targeting(("acme/web/svc-1",)))
    saved = load_plan_file(plan_file_text(made), "plan.json")
    assert saved.targeting == made.targeting
    saved.check_targeting()  # consistent: fine
    data = json.loads(plan_file_text(made))
    data["changes"][0]["pipeline"] = "svc-2"
    data["changes"][0]["pipeline_id"] = 102
    tampered = load_plan_file(json.dumps(data), "plan.json")
    with pytest.raises(PlanError, match="outside its own --target/--exclude"):
        tampered.check_targeting()


def test_apply_with_a_target_changes_only_the_targeted_pipeline(tmp_path: Path):
    path = tmp_path / "web.yml"
    path.write_text(config(), encoding="utf-8")
    with served(seed()) as (_app, client):
        made, report = engine.apply(engine.given(client), [path], Options(), targeting=Targeting(("*/svc-5",)))
        again = engine.plan(engine.given(client), [path], Options())
    assert report.ok and [c.pipeline for c in made.changes] == ["svc-5"]
    assert "svc-5" not in {c.pipeline for c in again.changes} and len(again.changes) == COUNT - 1


def test_a_pipeline_name_close_to_a_live_one_is_still_created_with_a_did_you_mean_warning(tmp_path: Path):
    path = tmp_path / "web.yml"
    path.write_text(config(1).replace("svc-0", "SVC-0"), encoding="utf-8")
    with served(seed(1)) as (_app, client):
        made = engine.plan(engine.given(client), [path], Options())
    assert [c.kind for c in made.changes] == ["create_pipeline", "create"]
    [warning] = made.warnings
    assert warning.startswith(f"{path}:4:")
    assert 'pipeline "SVC-0" does not exist in acme/web and will be created; did you mean "svc-0"?' in warning


def test_after_naming_no_live_action_suggests_the_closest_one(tmp_path: Path):
    path = tmp_path / "web.yml"
    path.write_text(config(1) + "      - name: Push\n        type: DOCKER_BUILD_MULTI_ARCH\n        after: build\n")
    with served(seed(1)) as (_app, client):
        made = engine.plan(engine.given(client), [path], Options())
    [error] = made.errors
    assert 'is to go after "build"' in error and 'did you mean "Build"?' in error
