"""Reading live state over real HTTP: the fewest requests, and the same plan through faults."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support import served

from reconciler import engine
from reconciler.buddy.live import needs_detail, read_live
from reconciler.config.build import load_config
from reconciler.fingerprint import fingerprint
from reconciler.plan.diff import Options

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SEED = json.loads((EXAMPLES / "sandbox-state.json").read_text())
OPTIONS = Options(sandbox=True)


def plan_json(fault: dict[str, Any] | None = None) -> dict[str, Any]:
    with served(SEED) as (app, client):
        if fault:
            app.set_faults(fault, seed=3)
        data = engine.plan(engine.given(client), [EXAMPLES], OPTIONS).to_json()
        faults = app.stats()["faults"]
    data.pop("target")
    data["faults_seen"] = bool(faults)
    return data


def test_a_plan_makes_exactly_the_necessary_requests() -> None:
    pipelines = load_config([EXAMPLES]).pipelines
    with served(SEED) as (app, client):
        states = read_live(client, pipelines)
        stats = app.stats()
    projects = len({(p.workspace, p.project) for p in pipelines})
    listed = [s for s in states if s.live is not None and not s.skipped]
    declared_live = sum(len(s.details) for s in listed)
    read_whole = sum(1 for s in listed if s.live is not None and s.live.detail is not None)
    # one page per project and per declared live pipeline, one GET per declared live action, one GET
    # of a pipeline only where a declared pipeline field is not in the list's summaries; and at most one
    # more request per list that is shorter than any page the run has seen so far: the proof of its end
    # (page 2 overlapping the last item of a sorted pipeline list; the pipeline's own answer, which
    # holds its actions, for an action list: the GET already made, or one made for that)
    necessary = projects + len(listed) + declared_live + read_whole
    assert necessary <= stats["by_method"]["GET"] <= necessary + projects + len(listed)
    assert declared_live == 4  # the examples: 3 matched by name, 1 by a previous name
    assert read_whole == 1  # "Nightly builds" declares priority
    assert stats["by_route"]["GET /pipelines/:pipeline_id"] <= len(listed)  # one at most per pipeline


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "rate_limit", "rate": 0.3, "retry_after": 0},
        {"kind": "error", "status": 503, "rate": 0.3},
        {"kind": "drop", "rate": 0.3},
    ],
    ids=["429s", "5xx", "dropped connections"],
)
def test_the_plan_is_the_same_through_injected_faults(fault: dict[str, Any]) -> None:
    clean = plan_json()
    faulty = plan_json(fault)
    assert faulty.pop("faults_seen") is True
    clean.pop("faults_seen")
    assert faulty == clean


def test_a_project_that_does_not_exist_is_an_error_for_its_pipelines_only(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text("workspace: acme\nproject: nope\npipelines:\n  - name: X\n    actions: []\n")
    (tmp_path / "b.yml").write_text(
        "workspace: acme\nproject: web\npipelines:\n  - name: Nightly builds\n    actions: []\n"
    )
    with served(SEED) as (_app, client):
        made = engine.plan(engine.given(client), [tmp_path], OPTIONS)
    assert len(made.errors) == 1 and "'nope'" in made.errors[0] and "not found" in made.errors[0]
    assert "acme/web/8" in made.fingerprints


def test_pipelines_are_matched_by_id_and_one_named_otherwise_is_renamed(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(
        "workspace: acme\nproject: web\npipelines:\n"
        "  - {id: 8, actions: []}\n"
        "  - {id: 7, name: New name, actions: []}\n"
        "  - {id: 999, actions: []}\n"
    )
    with served(SEED) as (_app, client):
        made = engine.plan(engine.given(client), [tmp_path], OPTIONS)
    assert "acme/web/8" in made.fingerprints
    [rename] = [c for c in made.changes if c.kind == "update_pipeline"]
    assert (rename.pipeline_id, rename.fields) == (7, {"name": "New name"})
    [error] = made.errors
    assert error.startswith('acme/web pipeline "#999": no live pipeline has id 999')


def test_a_rename_onto_the_name_of_another_live_pipeline_is_a_warning_naming_it(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(
        "workspace: acme\nproject: web\npipelines:\n  - {id: 7, name: Nightly builds, actions: []}\n"
    )
    with served(SEED) as (_app, client):
        made = engine.plan(engine.given(client), [tmp_path], OPTIONS)
    [rename] = [c for c in made.changes if c.kind == "update_pipeline"]
    assert rename.fields == {"name": "Nightly builds"}  # still planned: ids keep the two apart
    [warning] = made.warnings
    assert warning.endswith(
        'renaming pipeline #7 to "Nightly builds", the name of live pipeline #8: two pipelines will share it, '
        "and name matching will need ids"
    )


def test_a_rename_onto_a_name_another_declaration_renames_away_is_no_warning(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(
        "workspace: acme\nproject: web\npipelines:\n"
        "  - {id: 7, name: Nightly builds, actions: []}\n"
        "  - {id: 8, name: Release images, actions: []}\n"  # the two swap names
    )
    with served(SEED) as (_app, client):
        made = engine.plan(engine.given(client), [tmp_path], OPTIONS)
    assert len([c for c in made.changes if c.kind == "update_pipeline"]) == 2
    assert made.warnings == []


def test_one_live_pipeline_claimed_by_two_declarations_is_an_error_for_both(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(
        "workspace: acme\nproject: web\npipelines:\n"
        "  - {id: 8, actions: []}\n"
        "  - {name: Nightly, previous_names: [Nightly builds], actions: []}\n"  # #8 is "Nightly builds"
    )
    with served(SEED) as (_app, client):
        made = engine.plan(engine.given(client), [tmp_path], OPTIONS)
    assert len(made.errors) == 2
    assert any('pipeline "Nightly"' in e and 'already managed by "#8"' in e for e in made.errors)
    assert made.changes == []


@pytest.mark.parametrize("by", ["{name: Nightly builds", "{id: 8, name: Nightly builds"])
def test_a_new_pipeline_is_not_told_to_mean_a_live_one_another_declaration_manages(tmp_path: Path, by: str) -> None:
    (tmp_path / "a.yml").write_text(
        "workspace: acme\nproject: web\npipelines:\n"
        "  - {name: Nightly build, actions: []}\n"  # a genuinely new pipeline, one letter short
        f"  - {by}, actions: []}}\n"
    )
    with served(SEED) as (_app, client):
        made = engine.plan(engine.given(client), [tmp_path], OPTIONS)
    assert [c.pipeline for c in made.changes if c.kind == "create_pipeline"] == ["Nightly build"]
    assert not [w for w in made.warnings if "did you mean" in w]


def test_a_pipeline_is_read_in_full_only_for_a_declared_field_the_summary_lacks() -> None:
    yaml = {"git_config_ref": "NONE", "definition_source": "LOCAL"}
    summary = {"id": 7, "name": "Release", "refs": ["refs/heads/main"], "events": None, "disabled": False, **yaml}
    assert not needs_detail(["refs", "events", "disabled"], summary)
    assert needs_detail(["refs", "priority"], summary)  # priority is not a summary field
    assert needs_detail(["identifier"], summary)  # a summary field this server left out
    assert not needs_detail([], summary)


def test_a_pipeline_is_read_in_full_when_its_summary_does_not_say_whether_yaml_defines_it() -> None:
    lean = {"id": 7, "name": "Release"}
    assert needs_detail([], lean)
    assert needs_detail([], {**lean, "git_config_ref": "NONE"})  # definition_source unknown
    assert not needs_detail([], {**lean, "git_config_ref": None, "definition_source": None})  # null: unset


def test_fingerprints_depend_on_the_order_of_the_live_actions():
    a = fingerprint([(1, "A", "X"), (2, "B", "X")], {})
    b = fingerprint([(2, "B", "X"), (1, "A", "X")], {})
    assert a != b and a.startswith("sha256:")


# -- lean summaries: a summary that carries only url, html_url, id and name ------------------------------

LEAN_SEED: dict[str, Any] = {
    "workspaces": {
        "acme": {
            "projects": {
                "web": {
                    "pipelines": [
                        {
                            "id": 7,
                            "name": "Release",
                            "refs": ["refs/heads/main"],
                            "actions": [{"id": 40, "name": "Build", "type": "DOCKER_BUILD_MULTI_ARCH"}],
                        },
                        {
                            "id": 8,
                            "name": "Docs",
                            "git_config_ref": "FIXED",
                            "actions": [{"id": 50, "name": "Site", "type": "DOCKER_BUILD_MULTI_ARCH"}],
                        },
                    ]
                }
            }
        }
    }
}
LEAN_CONFIG = """\
workspace: acme
project: web
pipelines:
  - name: Release
    refs: [refs/heads/release]
    priority: HIGH
    disabled: true
    actions:
      - {name: Build, type: DOCKER_BUILD_MULTI_ARCH, dockerfile_path: release/Dockerfile}
  - name: Docs
    actions:
      - {name: Site, type: DOCKER_BUILD_MULTI_ARCH, dockerfile_path: site/Dockerfile}
"""


def test_with_lean_summaries_a_yaml_pipeline_gets_no_write_and_declared_fields_converge(tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    path.write_text(LEAN_CONFIG, encoding="utf-8")
    with served(LEAN_SEED) as (app, client):
        app.set_switches(lean_summaries=True)
        made, report = engine.apply(engine.given(client), [path], Options())
        assert report.ok, report.errors
        skipped = [(s.pipeline, s.reason) for s in made.skipped]
        assert skipped == [("Docs", "defined in Buddy YAML (git_config_ref FIXED)")]
        routes = app.stats()["by_route"]
        # one GET of each pipeline (their summaries say nothing of YAML), and the YAML one read no further
        assert routes["GET /pipelines/:pipeline_id"] == 2
        written = {k for k in routes if not k.startswith("GET")}
        assert written == {"PATCH /pipelines/:pipeline_id", "PATCH /pipelines/:pipeline_id/actions/:action_id"}
        docs = app.state.pipeline("acme", "web", 8)
        assert docs is not None and docs.actions[0].fields.get("dockerfile_path") is None  # untouched
        release = app.state.pipeline("acme", "web", 7)
        assert release is not None
        assert (release.fields["refs"], release.fields["priority"], release.fields["disabled"]) == (
            ["refs/heads/release"],
            "HIGH",
            True,
        )
        again = engine.plan(engine.given(client), [path], Options())
    assert again.changes == [] and not again.errors


def test_with_lean_summaries_import_leaves_out_a_yaml_pipeline(tmp_path: Path) -> None:
    with served(LEAN_SEED) as (app, client):
        app.set_switches(lean_summaries=True)
        result = engine.import_(engine.given(client), "acme", "web", output=tmp_path)
    assert any('"Docs" (#8) skipped: defined in Buddy YAML (git_config_ref FIXED)' in n for n in result.notes)
    assert [p.name for p in load_config([tmp_path]).pipelines] == ["Release"]


def test_a_pipeline_whose_full_answer_does_not_say_whether_yaml_defines_it_is_not_changed(tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    path.write_text(LEAN_CONFIG, encoding="utf-8")
    with served(LEAN_SEED) as (app, client):
        app.set_switches(lean_summaries=True)
        real = client.get_pipeline

        def silent(workspace: str, project: str, pipeline_id: int) -> dict[str, Any]:
            answer = real(workspace, project, pipeline_id)
            return {k: v for k, v in answer.items() if k not in ("git_config_ref", "definition_source")}

        client.get_pipeline = silent  # type: ignore[method-assign]
        made = engine.plan(engine.given(client), [path], Options())
    assert made.changes == []
    assert any("does not say whether the pipeline is defined in Buddy YAML" in e for e in made.errors)
