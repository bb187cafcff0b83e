"""Orphan pipelines against the sandbox: a plan tells the live pipelines of a declared project that no
file declares (information, not a change); `prune_pipelines: true` deletes those defined through the
API, never one defined in Buddy YAML, counted by the safety check per project and saved in the plan."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import support

from reconciler.cli.main import main
from reconciler.errors import ApiError
from reconciler.sandbox import ALL_SCOPES, SandboxApp, SandboxServer, SandboxState

TOKEN = "tok-orphans-0123456789abcdef"


def pipeline(pid: int, name: str, **extra: Any) -> dict[str, Any]:
    return {"id": pid, "name": name, "actions": [], **extra}


def seed(*orphans: dict[str, Any]) -> dict[str, Any]:
    """acme/web with the declared "Release" (#1), the given orphans and one defined in Buddy YAML."""
    yaml_one = pipeline(9, "From YAML", git_config_ref="FIXED", definition_source="REMOTE")
    pipelines = [pipeline(1, "Release"), *orphans, yaml_one]
    return {"workspaces": {"acme": {"projects": {"web": {"pipelines": pipelines}}}}}


CONFIG = """\
workspace: acme
project: web
{extra}pipelines:
  - name: Release
    actions: []
"""


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Serve a sandbox seeded as asked (``served(seed(...))``); the current directory is a temp one."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BUDDY_TOKEN", TOKEN)
    servers: list[SandboxServer] = []

    def start(data: dict[str, Any]) -> SandboxApp:
        app = SandboxApp(SandboxState.from_data(data), tokens={TOKEN: ALL_SCOPES})
        server = SandboxServer(app, poll_interval=0.005).__enter__()
        servers.append(server)
        monkeypatch.setenv("BUDDY_BASE_URL", server.url)
        return app

    yield start
    for server in servers:
        server.__exit__(None, None, None)


def names(app: SandboxApp) -> list[str]:
    return [p.name for _, _, p in app.state.iter_pipelines()]


def test_a_plan_lists_undeclared_pipelines_as_information_not_as_changes(served: Any, tmp_path: Path) -> None:
    served(seed(pipeline(2, "Old deploy"), pipeline(3, "Scratch")))
    (tmp_path / "web.yml").write_text(CONFIG.format(extra=""), encoding="utf-8")
    code, out, err = run("plan", "web.yml", "--detailed-exitcode")
    assert code == 0, out + err  # not a change
    assert 'acme/web  not managed here: 3 pipelines: "Old deploy" (#2), "Scratch" (#3), "From YAML" (#9, ' in out
    assert "No changes" in out
    code, out, _ = run("plan", "web.yml", "--format", "json")
    orphans = json.loads(out)["not_managed"]
    assert [(o["pipeline_id"], o["kept"] is None) for o in orphans] == [(2, True), (3, True), (9, False)]
    _, markdown, _ = run("plan", "web.yml", "--format", "markdown")
    assert "not managed here: 3 pipelines" in markdown


def test_prune_pipelines_deletes_the_api_defined_ones_and_never_the_yaml_one(served: Any, tmp_path: Path) -> None:
    app = served(seed(pipeline(2, "Old deploy")))
    (tmp_path / "web.yml").write_text(CONFIG.format(extra="prune_pipelines: true\n"), encoding="utf-8")
    code, out, err = run("plan", "web.yml", "--detailed-exitcode")
    assert code == 2, out + err
    assert '  - delete pipeline "Old deploy" (#2)' in out
    assert '"From YAML" (#9, defined in Buddy YAML' in out  # told, kept
    assert "1 to delete" in out
    code, out, err = run("apply", "web.yml")
    assert code == 0, out + err
    assert names(app) == ["Release", "From YAML"]
    assert run("plan", "web.yml", "--detailed-exitcode")[0] == 0


def test_pipeline_deletes_are_refused_over_30_percent_of_a_project_without_force(served: Any, tmp_path: Path) -> None:
    app = served(seed(pipeline(2, "A"), pipeline(3, "B")))  # 2 of 4 live pipelines: 50%
    (tmp_path / "web.yml").write_text(CONFIG.format(extra="prune_pipelines: true\n"), encoding="utf-8")
    code, out, err = run("apply", "web.yml")
    assert code == 1
    assert "project acme/web: 4 live pipelines; 2 pipeline deletes, over the limit of 30%" in err
    assert len(names(app)) == 4
    code, out, err = run("apply", "web.yml", "--force")
    assert code == 0, out + err
    assert names(app) == ["Release", "From YAML"]


def test_a_saved_plan_deletes_exactly_its_pipelines_and_is_shown_by_show(served: Any, tmp_path: Path) -> None:
    app = served(seed(pipeline(2, "Old deploy")))
    (tmp_path / "web.yml").write_text(CONFIG.format(extra="prune_pipelines: true\n"), encoding="utf-8")
    assert run("plan", "web.yml", "--out", "plan.json")[0] == 0
    saved = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    assert [c["kind"] for c in saved["changes"]] == ["delete_pipeline"]
    assert saved["summary"]["delete_pipeline"] == 1 and saved["project_pipelines"] == {"acme/web": 3}
    _, shown, _ = run("show", "plan.json")
    assert '- delete pipeline "Old deploy" (#2)' in shown
    code, out, err = run("apply", "--plan", "plan.json")
    assert code == 0, out + err
    assert "deleted pipeline" in out or "1 applied" in out
    assert names(app) == ["Release", "From YAML"]


def test_a_saved_pipeline_delete_is_refused_as_stale_when_the_pipeline_changed(served: Any, tmp_path: Path) -> None:
    app = served(seed(pipeline(2, "Old deploy")))
    (tmp_path / "web.yml").write_text(CONFIG.format(extra="prune_pipelines: true\n"), encoding="utf-8")
    assert run("plan", "web.yml", "--out", "plan.json")[0] == 0
    app.state.pipeline("acme", "web", 2).fields["name"] = "Renamed meanwhile"
    code, _, err = run("apply", "--plan", "plan.json")
    assert code == 1 and "stale" in err
    assert "Renamed meanwhile" in names(app)


def test_a_targeted_plan_lists_orphans_but_deletes_none(served: Any, tmp_path: Path) -> None:
    served(seed(pipeline(2, "Old deploy")))
    (tmp_path / "web.yml").write_text(CONFIG.format(extra="prune_pipelines: true\n"), encoding="utf-8")
    code, out, _ = run("plan", "web.yml", "--target", "acme/web/Release", "--detailed-exitcode")
    assert code == 0
    assert "not managed here" in out and "delete pipeline" not in out


def test_files_of_one_project_must_agree_on_prune_pipelines(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(CONFIG.format(extra="prune_pipelines: true\n"), encoding="utf-8")
    (tmp_path / "b.yml").write_text(CONFIG.format(extra="").replace("Release", "Nightly"), encoding="utf-8")
    code, out, _ = run("validate", str(tmp_path))
    assert code == 1
    assert "b.yml:1:1: $.prune_pipelines: prune_pipelines is false here but true in " in out
    assert "a.yml:3" in out


def test_the_client_deletes_an_api_pipeline_and_the_sandbox_refuses_a_yaml_one() -> None:
    with support.served(seed(pipeline(2, "Old deploy"))) as (app, client):
        client.delete_pipeline("acme", "web", 2)
        assert names(app) == ["Release", "From YAML"]
        with pytest.raises(ApiError):
            client.delete_pipeline("acme", "web", 9)
        assert names(app) == ["Release", "From YAML"]


@pytest.mark.parametrize("value", ["remote", "YAML", 42, True])
def test_a_pipeline_whose_definition_source_is_no_value_buddy_documents_is_neither_deleted_nor_changed(
    served: Any, tmp_path: Path, value: Any
) -> None:
    app = served(seed(pipeline(2, "Odd")))
    for pid in (1, 2):  # the declared one and the orphan answer a definition_source of neither LOCAL nor REMOTE
        app.state.pipeline("acme", "web", pid).fields["definition_source"] = value
    config = CONFIG.format(extra="prune_pipelines: true\n").replace(
        "actions: []", "actions:\n      - {name: Build, type: DOCKER_BUILD_MULTI_ARCH, dockerfile_path: Dockerfile}"
    )
    (tmp_path / "web.yml").write_text(config, encoding="utf-8")
    code, out, err = run("apply", "web.yml", "--force")
    assert "delete pipeline" not in out and '"Odd" (#2, not deleted: the API does not say' in out
    assert 'pipeline "Release": ' in out + err and "not changed" in out + err
    assert names(app) == ["Release", "Odd", "From YAML"] and app.state.pipeline("acme", "web", 1).actions == []
    assert code == 1


def test_a_pipeline_still_under_a_previous_name_of_a_declared_one_is_told_but_never_deleted(
    served: Any, tmp_path: Path
) -> None:
    # "Release" declares previous_names: [Old release]; both are live: the old one may be the original
    app = served(seed(pipeline(2, "Old release"), pipeline(3, "Scratch"), pipeline(4, "Tmp")))
    config = CONFIG.format(extra="prune_pipelines: true\n").replace(
        "  - name: Release\n", "  - name: Release\n    previous_names: [Old release]\n"
    )
    (tmp_path / "web.yml").write_text(config, encoding="utf-8")
    code, out, err = run("plan", "web.yml")
    assert code == 0, out + err
    assert '"Old release" (#2, not deleted: a previous name of "Release")' in out
    assert 'delete pipeline "Old release"' not in out
    code, out, err = run("apply", "web.yml", "--force")
    assert code == 0, out + err
    assert names(app) == ["Release", "Old release", "From YAML"]


def test_a_saved_plan_counts_a_projects_pipelines_live_not_from_the_file(served: Any, tmp_path: Path) -> None:
    app = served(seed(pipeline(2, "A"), pipeline(3, "B")))  # 2 deletes of 4 live pipelines: refused
    (tmp_path / "web.yml").write_text(CONFIG.format(extra="prune_pipelines: true\n"), encoding="utf-8")
    assert run("plan", "web.yml", "--out", "plan.json")[0] == 0
    saved = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    saved["project_pipelines"], saved["warnings"] = {"acme/web": 100}, []  # edited: 2 of 100 would pass
    (tmp_path / "edited.json").write_text(json.dumps(saved), encoding="utf-8")
    code, _, err = run("apply", "--plan", "edited.json", "--auto-approve")
    assert code == 1
    assert "project acme/web: 4 live pipelines; 2 pipeline deletes, over the limit of 30%" in err
    assert len(names(app)) == 4


def test_a_saved_plan_edited_to_delete_a_declared_pipeline_or_to_repeat_a_delete_is_refused(
    served: Any, tmp_path: Path
) -> None:
    app = served(seed(pipeline(2, "Old deploy"), pipeline(3, "A"), pipeline(4, "B"), pipeline(5, "C")))
    (tmp_path / "web.yml").write_text(CONFIG.format(extra="prune_pipelines: true\n"), encoding="utf-8")
    assert run("plan", "web.yml", "--out", "plan.json", "--target", "acme/web/Release")[0] == 0
    saved = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    saved["targeting"] = None
    declared = {"kind": "delete_pipeline", "workspace": "acme", "project": "web", "pipeline": "Release"}
    edits = {
        "declared.json": [{**declared, "pipeline_id": 1}],
        "twice.json": [{**declared, "pipeline": name, "pipeline_id": 2} for name in ("Old deploy", "old deploy")],
    }
    for name, changes in edits.items():
        (tmp_path / name).write_text(json.dumps({**saved, "changes": changes}), encoding="utf-8")
        for argv in (("show", name), ("apply", "--plan", name, "--auto-approve")):
            code, out, err = run(*argv)
            assert code == 1 and "the file was edited; make the plan again" in err, (name, out, err)
    assert len(names(app)) == 6


def test_no_pipeline_is_deleted_while_a_declaration_fails_to_plan(served: Any, tmp_path: Path) -> None:
    app = served(seed(pipeline(2, "B"), pipeline(3, "C"), pipeline(4, "D")))
    config = CONFIG.format(extra="prune_pipelines: true\n") + "  - id: 99\n    name: B\n    actions: []\n"
    (tmp_path / "web.yml").write_text(config, encoding="utf-8")  # a typo in the id meant for "B"
    code, out, err = run("apply", "web.yml", "--auto-approve")
    assert code == 1
    assert "acme/web: prune_pipelines deletes nothing: 1 declared pipeline could not be planned" in out + err
    assert names(app) == ["Release", "B", "C", "D", "From YAML"]


@pytest.mark.parametrize("passed_over", ["fifo", "near_miss", "dangling_folder"])
def test_no_pipeline_is_deleted_while_a_file_that_might_declare_one_was_passed_over(
    served: Any, tmp_path: Path, passed_over: str
) -> None:
    app = served(seed(pipeline(2, "B")))
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "web.yml").write_text(CONFIG.format(extra="prune_pipelines: true\n"), encoding="utf-8")
    if passed_over == "fifo":
        os.mkfifo(cfg / "b.yml")
    elif passed_over == "near_miss":
        (cfg / "b.yml").write_text("Workspace: acme\nProject: web\nPipelines:\n  - name: B\n", encoding="utf-8")
    else:
        (cfg / "team-b").symlink_to(tmp_path / "not-checked-out")
    code, out, err = run("plan", "cfg", "--detailed-exitcode")
    assert code == 0, out + err
    assert "acme/web: prune_pipelines deletes nothing: a file that might declare pipelines was passed over" in out + err
    assert 'delete pipeline "B"' not in out
    assert names(app) == ["Release", "B", "From YAML"]


def test_a_config_whose_suffix_is_upper_case_is_read(served: Any, tmp_path: Path) -> None:
    served(seed(pipeline(2, "B")))
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "web.yml").write_text(CONFIG.format(extra="prune_pipelines: true\n"), encoding="utf-8")
    other = "workspace: acme\nproject: web\nprune_pipelines: true\npipelines:\n  - name: B\n    actions: []\n"
    (cfg / "b.YML").write_text(other, encoding="utf-8")
    code, out, err = run("plan", "cfg", "--detailed-exitcode")
    assert code == 0, out + err  # "B" is declared: nothing to delete


def test_a_saved_delete_of_a_pipeline_defined_in_buddy_yaml_is_refused_whatever_the_file_says(
    served: Any, tmp_path: Path
) -> None:
    from reconciler.buddy.client import BuddyClient
    from reconciler.buddy.live import read_keys
    from reconciler.model import PipelineKey

    app = served(seed(pipeline(2, "Old deploy"), pipeline(3, "A"), pipeline(4, "B")))
    (tmp_path / "web.yml").write_text(CONFIG.format(extra="prune_pipelines: true\n"), encoding="utf-8")
    assert run("plan", "web.yml", "--out", "plan.json")[0] == 0
    saved = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    key = PipelineKey("acme", "web", 9)  # "From YAML": an edit makes it deletable, fingerprint and all
    with BuddyClient(os.environ["BUDDY_BASE_URL"], TOKEN) as client:
        saved["fingerprints"][str(key)] = read_keys(client, [key], {})[0].fingerprint
    saved["changes"] = [{"kind": "delete_pipeline", "workspace": "acme", "project": "web", "pipeline": "From YAML",
                         "pipeline_id": 9}]  # fmt: skip
    saved["not_managed"] = [{**o, "kept": None} for o in saved["not_managed"]]
    (tmp_path / "edited.json").write_text(json.dumps(saved), encoding="utf-8")
    code, _, err = run("apply", "--plan", "edited.json", "--auto-approve", "--force")
    assert code == 1 and 'pipeline "From YAML" (#9) is not to be deleted: defined in Buddy YAML' in err, err
    assert "From YAML" in names(app)


@pytest.mark.parametrize(
    ("live", "declared"),
    [("Deploy production", "Deploy producton"), ("Build", "build ")],  # the closest name; case and spaces
)
def test_a_live_pipeline_that_a_created_one_looks_like_a_typo_of_is_never_deleted(
    served: Any, tmp_path: Path, live: str, declared: str
) -> None:
    app = served(seed(pipeline(2, live), pipeline(3, "X")))
    config = CONFIG.format(extra="prune_pipelines: true\n") + f'  - name: "{declared}"\n    actions: []\n'
    (tmp_path / "web.yml").write_text(config, encoding="utf-8")  # the live one is most likely meant
    code, out, err = run("apply", "web.yml", "--auto-approve")
    assert code == 0, out + err
    assert f'"{live}" (#2, not deleted: close to "{declared}", which this plan creates (a typo?))' in out
    assert live in names(app)
