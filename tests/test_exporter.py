"""reconcile import without a network: cleaning, comments, escaping, files."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler import envrefs
from reconciler.config.build import load_config
from reconciler.config.loader import load_text
from reconciler.errors import ExportWriteError, OutputExistsError, PipelineNotFoundError, UsageError
from reconciler.importer import exporter
from reconciler.importer.envnames import EnvNames
from reconciler.importer.exporter import (
    ACTION_ORDER,
    SCHEMA_URL,
    clean_action,
    clean_pipeline,
    escape,
    export,
    render_file,
    unknown_action_fields,
)
from reconciler.model import MULTI_ARCH, ImportedAction, ImportedPipeline

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
T = TypeVar("T")
R = TypeVar("R")


def live_action(action_id: int, name: str, **fields: Any) -> dict[str, Any]:
    """A multi-arch action as the API answers a GET: every field present, unset ones null."""
    base: dict[str, Any] = {key: None for key in ACTION_ORDER}
    base.update(
        {
            "url": f"https://api/actions/{action_id}",
            "html_url": f"https://app/actions/{action_id}",
            "id": action_id,
            "name": name,
            "type": MULTI_ARCH,
            "trigger_time": "ON_EVERY_EXECUTION",
            "disabled": False,
            "target_platform": "linux/amd64",
            "last_execution_status": "INITIAL",
            "pipeline": {"id": 7, "name": "Release"},
            "current_revision": None,
        }
    )
    base.update(fields)
    return base


# -- cleaning ----------------------------------------------------------------------------------------


def test_an_action_keeps_only_fields_that_carry_information():
    detail = live_action(
        41,
        "Build app image",
        dockerfile_path="Dockerfile",
        context_path="",
        build_args=[],
        pull=False,
        timeout=600,
        current_revision="abc123",
    )
    assert clean_action(detail) == {
        "name": "Build app image",
        "type": MULTI_ARCH,
        "dockerfile_path": "Dockerfile",
        "pull": False,  # false is a choice someone made: the server answers null for unset
        "timeout": 600,
    }


def test_server_defaults_are_left_out_but_other_values_of_those_fields_are_kept():
    defaults = clean_action(live_action(1, "a"))
    assert set(defaults) == {"name", "type"}
    changed = clean_action(live_action(1, "a", trigger_time="ON_SUCCESS", disabled=True, target_platform="linux/arm64"))
    assert changed["trigger_time"] == "ON_SUCCESS"
    assert changed["disabled"] is True
    assert changed["target_platform"] == "linux/arm64"


def test_nested_objects_lose_their_null_and_empty_keys():
    detail = live_action(
        1,
        "a",
        secrets=[{"id": "npmrc", "type": None, "value": "encrypted:1"}],
        variables=[{"key": "K", "value": "v", "type": None, "encrypted": None, "settable": None, "description": ""}],
        trigger_conditions=[
            {"trigger_condition": "ON_CHANGE_AT_PATH", "trigger_condition_paths": ["src/"], "trigger_hours": []}
        ],
        permissions={"others": "READ_ONLY", "users": [{"id": 3, "access_level": None}], "groups": None},
    )
    cleaned = clean_action(detail)
    assert cleaned["secrets"] == [{"id": "npmrc", "value": "encrypted:1"}]
    assert cleaned["variables"] == [{"key": "K", "value": "v"}]
    assert cleaned["trigger_conditions"] == [
        {"trigger_condition": "ON_CHANGE_AT_PATH", "trigger_condition_paths": ["src/"]}
    ]
    assert cleaned["permissions"] == {"others": "READ_ONLY", "users": [{"id": 3}]}


def test_keys_the_server_adds_inside_nested_objects_are_left_out_and_named():
    detail = live_action(
        1,
        "a",
        secrets=[{"id": "npmrc", "type": "FILE", "value": "encrypted:1", "created": "2026-01-01"}],
        variables=[{"key": "K", "value": "v", "id": 77, "binary": False}],
        trigger_conditions=[{"trigger_condition": "ALWAYS", "id": 5}],
        permissions={"others": "READ_ONLY", "users": [{"id": 3, "access_level": "READ_WRITE", "email": "a@x"}]},
    )
    cleaned = clean_action(detail)
    assert cleaned["secrets"] == [{"id": "npmrc", "type": "FILE", "value": "encrypted:1"}]
    assert cleaned["variables"] == [{"key": "K", "value": "v"}]
    assert cleaned["trigger_conditions"] == [{"trigger_condition": "ALWAYS"}]
    assert cleaned["permissions"] == {"others": "READ_ONLY", "users": [{"id": 3, "access_level": "READ_WRITE"}]}
    assert unknown_action_fields(detail) == [
        "permissions.users[].email",
        "secrets[].created",
        "trigger_conditions[].id",
        "variables[].binary",
        "variables[].id",
    ]


def test_keys_the_server_adds_inside_pipeline_events_and_conditions_are_left_out():
    live = {
        "events": [{"type": "PUSH", "refs": ["refs/heads/main"], "id": 3}],
        "trigger_conditions": [{"trigger_condition": "ON_CHANGE", "id": 4}],
    }
    assert clean_pipeline("P", live) == {
        "name": "P",
        "events": [{"type": "PUSH", "refs": ["refs/heads/main"]}],
        "trigger_conditions": [{"trigger_condition": "ON_CHANGE"}],
    }


def test_a_permissions_object_with_nothing_set_is_left_out():
    assert "permissions" not in clean_action(live_action(1, "a", permissions={"others": None, "users": []}))


@pytest.mark.parametrize(
    ("live", "written"),
    [
        ({"identifier": "aws-prod", "hash_id": "aws-prod"}, {"identifier": "aws-prod"}),
        ({"identifier": None, "hash_id": "h42"}, {"identifier": "h42"}),
        ({"hash_id": "h42", "name": "AWS", "type": "AMAZON"}, {"identifier": "h42"}),
    ],
)
def test_an_integration_is_written_by_its_identifier(live: dict[str, Any], written: dict[str, Any]):
    assert clean_action(live_action(1, "a", integration=live))["integration"] == written


def test_run_only_on_first_failure_is_written_only_with_on_failure():
    elsewhere = clean_action(live_action(1, "a", trigger_time="ON_SUCCESS", run_only_on_first_failure=False))
    assert "run_only_on_first_failure" not in elsewhere
    on_failure = clean_action(live_action(1, "a", trigger_time="ON_FAILURE", run_only_on_first_failure=False))
    assert on_failure["run_only_on_first_failure"] is False


def test_name_and_type_come_first_then_the_fields_in_a_fixed_order():
    detail = live_action(1, "a", password="encrypted:x", dockerfile_path="Dockerfile", repository="acme/web")
    assert list(clean_action(detail)) == ["name", "type", "dockerfile_path", "repository", "password"]


def test_the_written_order_names_only_fields_a_file_may_hold():
    action_schema = json.loads((SCHEMAS / "action.schema.json").read_text(encoding="utf-8"))
    writable = {k for k, v in action_schema["properties"].items() if not v.get("readOnly")} - {"name", "type"}
    assert set(ACTION_ORDER) == writable
    assert len(ACTION_ORDER) == len(set(ACTION_ORDER))


def test_a_pipeline_keeps_its_set_non_default_fields():
    live = {
        "id": 7,
        "url": "u",
        "name": "Release images",
        "identifier": "release-images",
        "refs": ["refs/heads/main"],
        "events": [{"type": "PUSH", "refs": ["refs/heads/main"]}],
        "priority": "LOW",
        "disabled": False,
        "paused": None,
        "tags": [],
        "definition_source": "LOCAL",
        "git_config_ref": "NONE",
        "create_date": "2026-01-01T00:00:00Z",
        "actions": [{"id": 1}],
    }
    assert clean_pipeline("Release images", live) == {
        "name": "Release images",
        "refs": ["refs/heads/main"],
        "events": [{"type": "PUSH", "refs": ["refs/heads/main"]}],
        "priority": "LOW",
    }


def test_an_identifier_buddy_would_not_derive_is_kept():
    assert clean_pipeline("Release images", {"identifier": "rel"})["identifier"] == "rel"


# -- escaping ----------------------------------------------------------------------------------------


def test_a_literal_env_reference_is_escaped():
    assert escape("${env:HOME}/x") == "$${env:HOME}/x"
    assert escape("$${env:HOME}") == "$$${env:HOME}"
    assert escape({"k": ["${env:A}", 3]}) == {"k": ["$${env:A}", 3]}
    assert escape("$BUDDY_EXECUTION_REVISION") == "$BUDDY_EXECUTION_REVISION"


@given(st.text(alphabet=st.sampled_from(list("${}env:AB-_ x")), max_size=40))
def test_escaped_text_reads_back_as_the_same_text(text: str):
    written = escape(text)
    assert not envrefs.find_refs(written)
    assert not envrefs.syntax_errors(written)
    assert envrefs.resolve(written, {}) == text


# -- the text ----------------------------------------------------------------------------------------


def release_pipeline() -> ImportedPipeline:
    app = live_action(
        41,
        "Build app image",
        dockerfile_path="Dockerfile",
        target_platform="linux/amd64,linux/arm64",
        docker_registry="DOCKER_HUB",
        repository="acme/web",
        docker_image_tag="$BUDDY_EXECUTION_REVISION",
        build_args=["NODE_ENV=production", "LITERAL=${env:NOT_OURS}"],
        login="acme-bot",
        password="encrypted:0123456789abcdef",
        secrets=[{"id": "npmrc", "type": "FILE", "value": "encrypted:fedcba"}],
    )
    worker = live_action(43, "Build worker image", dockerfile_path="worker/Dockerfile", cache_mode="MIN")
    return ImportedPipeline(
        7,
        "Release images",
        {"id": 7, "name": "Release images", "refs": ["refs/heads/main"], "identifier": "release-images"},
        (
            ImportedAction(40, "Run tests", "BUILD"),
            ImportedAction(41, "Build app image", MULTI_ARCH, app),
            ImportedAction(42, 'Notify "team"', "SLACK"),
            ImportedAction(43, "Build worker image", MULTI_ARCH, worker),
            ImportedAction(44, "Deploy", "SSH_COMMAND"),
        ),
    )


def test_other_live_actions_stand_as_comments_at_their_places():
    text, _ = render_file("acme", "web", [release_pipeline()], EnvNames())
    lines = text.splitlines()

    def at(fragment: str) -> int:
        return next(i for i, line in enumerate(lines) if fragment in line)

    assert at('# (live action "Run tests", BUILD, #40 — not managed here)') < at("- name: Build app image")
    assert at("- name: Build app image") < at('# (live action "Notify \\"team\\"", SLACK, #42')
    assert at("SLACK, #42") < at("- name: Build worker image") < at('"Deploy", SSH_COMMAND, #44')
    assert lines[0] == f"# yaml-language-server: $schema={SCHEMA_URL}"


def test_the_text_reads_back_as_the_cleaned_actions_with_references_for_secrets():
    env = EnvNames()
    text, _ = render_file("acme", "web", [release_pipeline()], env)
    assert "encrypted:" not in text
    loaded = load_text(text, "web.yml")
    assert not loaded.problems
    data = loaded.documents[0].data
    pipeline = data["pipelines"][0]
    assert pipeline["name"] == "Release images"
    assert pipeline["refs"] == ["refs/heads/main"]
    assert "identifier" not in pipeline
    app, worker = pipeline["actions"]
    assert app["password"] == "${env:DOCKERHUB_PASSWORD}"
    assert app["secrets"] == [{"id": "npmrc", "type": "FILE", "value": "${env:BUILD_APP_IMAGE_SECRET_NPMRC}"}]
    assert app["build_args"] == ["NODE_ENV=production", "LITERAL=$${env:NOT_OURS}"]
    assert app["docker_image_tag"] == "$BUDDY_EXECUTION_REVISION"
    assert worker == {
        "name": "Build worker image",
        "type": MULTI_ARCH,
        "dockerfile_path": "worker/Dockerfile",
        "cache_mode": "MIN",
    }
    assert list(env.described()) == ["BUILD_APP_IMAGE_SECRET_NPMRC", "DOCKERHUB_PASSWORD"]
    assert "DOCKERHUB_PASSWORD" in text.split("workspace:")[0]  # the header names the variables


def test_what_is_written_passes_validate(tmp_path: Path):
    text, _ = render_file("acme", "web", [release_pipeline()], EnvNames())
    path = tmp_path / "web.yml"
    path.write_text(text, encoding="utf-8")
    config = load_config([path])
    assert [p.name for p in config.pipelines] == ["Release images"]
    assert [a.name for a in config.pipelines[0].actions] == ["Build app image", "Build worker image"]
    assert not config.warnings


def test_a_pipeline_without_multi_arch_actions_is_written_with_an_empty_list(tmp_path: Path):
    lonely = ImportedPipeline(9, "Docs", {"name": "Docs"}, (ImportedAction(90, "Build docs", "BUILD"),))
    text, notes = render_file("acme", "web", [lonely], EnvNames())
    assert "    actions: []" in text
    assert '# (live action "Build docs", BUILD, #90' in text
    assert any("no multi-arch action" in n for n in notes)
    path = tmp_path / "web.yml"
    path.write_text(text, encoding="utf-8")
    assert load_config([path]).pipelines[0].actions == ()


def test_actions_sharing_a_name_are_left_out_and_guarded_from_prune(tmp_path: Path):
    twin = live_action(51, "Build")
    pipeline = ImportedPipeline(
        5,
        "Twins",
        {"name": "Twins"},
        (
            ImportedAction(50, "Build", "BUILD"),
            ImportedAction(51, "Build", MULTI_ARCH, twin),
            ImportedAction(52, "Push", MULTI_ARCH, live_action(52, "Push", repository="acme/x")),
        ),
    )
    text, notes = render_file("acme", "web", [pipeline], EnvNames())
    assert "2 live actions have this name" in text
    assert any('"Build" (#51) not written' in n for n in notes)
    path = tmp_path / "web.yml"
    path.write_text(text, encoding="utf-8")
    declared = load_config([path]).pipelines[0]
    assert declared.prune is False
    assert [a.name for a in declared.actions] == ["Push"]


def test_two_live_pipelines_with_one_name_are_declared_by_id(tmp_path: Path):
    first = ImportedPipeline(3, "Build", {"name": "Build"}, ())
    second = ImportedPipeline(4, "Build", {"name": "Build"}, ())
    text, _ = render_file("acme", "web", [first, second], EnvNames())
    path = tmp_path / "web.yml"
    path.write_text(text, encoding="utf-8")
    assert [(p.name, p.id) for p in load_config([path]).pipelines] == [(None, 3), (None, 4)]


@pytest.mark.parametrize("name", ["Deploy ${env:HOME} x", "Deploy $${env:HOME} x", "Deploy ${env: x"])
def test_a_pipeline_whose_name_holds_an_env_reference_is_declared_by_id(tmp_path: Path, name: str):
    # validate refuses `${env:` in a name, escaped or not: the id is what a file can say
    text, notes = render_file("acme", "web", [ImportedPipeline(3, name, {"name": name}, ())], EnvNames())
    path = tmp_path / "web.yml"
    path.write_text(text, encoding="utf-8")
    assert [(p.name, p.id) for p in load_config([path]).pipelines] == [(None, 3)]
    assert any("its name holds `${env:`" in n and "written as `id: 3`" in n for n in notes)


def test_names_with_line_breaks_cannot_break_out_of_a_comment():
    odd = ImportedPipeline(1, "P", {}, (ImportedAction(2, "one\ntwo: 3", "BUILD"),))
    text, _ = render_file("acme", "web", [odd], EnvNames())
    assert not any(line.startswith("two") or line.strip().startswith("two:") for line in text.splitlines())
    assert not load_text(text).problems


# -- files -------------------------------------------------------------------------------------------


class FakeClient:
    """The four reads export makes, from a dict: {pipeline summary: [live action details]}."""

    def __init__(self, pipelines: list[tuple[dict[str, Any], list[dict[str, Any]]]]) -> None:
        self.pipelines = pipelines

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        return [fn(item) for item in items]

    def list_pipelines(self, workspace: str, project: str, **_: Any) -> list[dict[str, Any]]:
        return [summary for summary, _ in self.pipelines]

    def _find(self, pipeline_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        return next(p for p in self.pipelines if p[0]["id"] == pipeline_id)

    def get_pipeline(self, workspace: str, project: str, pipeline_id: int) -> dict[str, Any]:
        # a full answer carries every field, null when unset (CONTRACT.md)
        return {"git_config_ref": None, "definition_source": None, **self._find(pipeline_id)[0]}

    def list_actions(self, workspace: str, project: str, pipeline_id: int, **_: Any) -> list[dict[str, Any]]:
        return [{"id": a["id"], "name": a["name"], "type": a["type"]} for a in self._find(pipeline_id)[1]]

    def get_action(self, workspace: str, project: str, pipeline_id: int, action_id: int) -> dict[str, Any]:
        return next(a for a in self._find(pipeline_id)[1] if a["id"] == action_id)


def fake() -> Any:
    return FakeClient(
        [
            (
                {"id": 7, "name": "Release images", "git_config_ref": "NONE", "refs": ["refs/heads/main"]},
                [
                    {"id": 40, "name": "Run tests", "type": "BUILD"},
                    live_action(
                        41, "Build app image", login="bot", password="encrypted:1", docker_registry="DOCKER_HUB"
                    ),
                ],
            ),
            ({"id": 8, "name": "Nightly builds", "priority": "LOW"}, [live_action(81, "Build nightly", pull=True)]),
            ({"id": 9, "name": "Docs", "git_config_ref": "FIXED"}, []),
        ]
    )


def test_export_writes_one_file_per_project(tmp_path: Path):
    result = export(fake(), "acme", "web", output=tmp_path)
    assert result.files == [tmp_path / "web.yml"]
    assert list(result.env) == ["DOCKERHUB_PASSWORD"]
    assert any('"Docs" (#9) skipped: defined in Buddy YAML' in n for n in result.notes)
    config = load_config([tmp_path])
    assert [p.name for p in config.pipelines] == ["Release images", "Nightly builds"]
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def test_export_split_writes_one_file_per_pipeline(tmp_path: Path):
    client = fake()
    nightly = client.pipelines[1][1][0]
    nightly.update(login="bot", password="encrypted:1", docker_registry="DOCKER_HUB")
    result = export(client, "acme", "web", output=tmp_path, split=True)
    for path in result.files:  # each file's header names the variables it uses, shared ones too
        head = path.read_text(encoding="utf-8").split("workspace:")[0]
        assert "apply time: DOCKERHUB_PASSWORD" in head
    assert result.files == [tmp_path / "web" / "release-images.yml", tmp_path / "web" / "nightly-builds.yml"]
    assert sorted(p.name for p in load_config([tmp_path]).pipelines) == ["Nightly builds", "Release images"]


def test_export_of_named_pipelines_only(tmp_path: Path):
    export(fake(), "acme", "web", pipelines=["Nightly builds"], output=tmp_path)
    assert [p.name for p in load_config([tmp_path]).pipelines] == ["Nightly builds"]


def test_an_unknown_pipeline_name_is_an_error_naming_it(tmp_path: Path):
    with pytest.raises(PipelineNotFoundError, match='"Nope"'):
        export(fake(), "acme", "web", pipelines=["Release images", "Nope"], output=tmp_path)
    assert not list(tmp_path.iterdir())


def test_existing_files_are_not_overwritten_without_force(tmp_path: Path):
    existing = tmp_path / "web" / "nightly-builds.yml"
    existing.parent.mkdir()
    existing.write_text("mine\n", encoding="utf-8")
    with pytest.raises(OutputExistsError, match=r"nightly-builds\.yml") as refused:
        export(fake(), "acme", "web", output=tmp_path, split=True)
    assert refused.value.paths == [existing]
    assert existing.read_text(encoding="utf-8") == "mine\n"
    assert not (tmp_path / "web" / "release-images.yml").exists()  # nothing at all was written

    export(fake(), "acme", "web", output=tmp_path, split=True, force=True)
    assert existing.read_text(encoding="utf-8").startswith("# yaml-language-server")


def test_the_schema_comment_points_at_a_local_copy_when_there_is_one(tmp_path: Path):
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "config.schema.json").write_text("{}", encoding="utf-8")
    export(fake(), "acme", "web", output=tmp_path / "acme", split=True)
    first = (tmp_path / "acme" / "web" / "release-images.yml").read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=../../schemas/config.schema.json"


def test_the_schema_comment_is_the_published_url_otherwise(tmp_path: Path):
    near = [
        d
        for d in (tmp_path, *tmp_path.parents)
        if (d / "config.schema.json").exists() or (d / "schemas" / "config.schema.json").exists()
    ]
    if near:
        pytest.skip(f"a config.schema.json lies above the temporary directory ({near[0]})")
    assert exporter.schema_reference(tmp_path) == SCHEMA_URL


texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=30)


def test_line_breaks_of_every_kind_read_back_unchanged():
    for tag in ("\x85", "a\u2028b", "one\ntwo", "tab\there", "\ufeffbom"):
        detail = live_action(1, "Build", docker_image_tag=tag)
        pipeline = ImportedPipeline(7, "Release", {}, (ImportedAction(1, "Build", MULTI_ARCH, detail),))
        text, _ = render_file("acme", "web", [pipeline], EnvNames())
        (action,) = load_text(text).documents[0].data["pipelines"][0]["actions"]
        assert action["docker_image_tag"] == tag


@given(texts, st.lists(texts, max_size=3))
def test_any_text_reads_back_as_written(tag: str, args: list[str]):
    detail = live_action(1, "Build", docker_image_tag=tag, build_args=args, variables=[{"key": "K", "value": tag}])
    pipeline = ImportedPipeline(7, "Release", {}, (ImportedAction(1, "Build", MULTI_ARCH, detail),))
    text, _ = render_file("acme", "web", [pipeline], EnvNames())
    loaded = load_text(text, "web.yml")
    assert not loaded.problems, loaded.problems
    (action,) = loaded.documents[0].data["pipelines"][0]["actions"]
    assert envrefs.resolve(action["docker_image_tag"], {}) == tag
    assert envrefs.resolve(action.get("build_args", []), {}) == args
    assert envrefs.resolve(action["variables"][0]["value"], {}) == tag


def test_an_import_into_a_directory_that_already_declares_a_pipeline_is_refused_naming_the_file(tmp_path: Path):
    declared = tmp_path / "teams" / "release.yml"
    declared.parent.mkdir()
    declared.write_text(
        "workspace: acme\nproject: web\npipelines:\n  - name: Old name\n    previous_names: [Release images]\n"
        "    actions: []\n",
        encoding="utf-8",
    )
    with pytest.raises(UsageError, match=r'pipeline "Release images" is already declared at .*release\.yml:4:5'):
        export(fake(), "acme", "web", output=tmp_path)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["release.yml", "teams"]  # nothing was written
    with pytest.raises(UsageError, match="already declared"):  # --force does not help: that file stays
        export(fake(), "acme", "web", output=tmp_path, force=True)


def test_a_declaration_by_id_counts_and_other_projects_or_the_file_being_replaced_do_not(tmp_path: Path):
    (tmp_path / "other.yml").write_text(
        "workspace: acme\nproject: api\npipelines:\n  - name: Release images\n    actions: []\n", encoding="utf-8"
    )
    export(fake(), "acme", "web", output=tmp_path)  # another project's pipeline of that name is no clash
    export(fake(), "acme", "web", output=tmp_path, force=True)  # web.yml itself is replaced, not a clash
    (tmp_path / "by-id.yml").write_text(
        "workspace: acme\nproject: web\npipelines:\n  - id: 8\n    actions: []\n", encoding="utf-8"
    )
    with pytest.raises(UsageError, match=r'"Nightly builds" is already declared at .*by-id\.yml'):
        export(fake(), "acme", "web", output=tmp_path, force=True)


def test_a_symlink_where_import_writes_a_file_is_replaced_never_written_through(tmp_path: Path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "web.yml").symlink_to(victim)  # planted by a checkout: --force must not write elsewhere
    with pytest.raises(OutputExistsError):
        export(fake(), "acme", "web", output=out)
    export(fake(), "acme", "web", output=out, force=True)
    assert victim.read_text(encoding="utf-8") == "keep me\n"
    assert not (out / "web.yml").is_symlink() and "workspace: acme" in (out / "web.yml").read_text(encoding="utf-8")


def test_an_output_directory_that_is_a_symlink_loop_is_written_to_with_a_clear_error(tmp_path: Path):
    loop = tmp_path / "loop"
    loop.symlink_to("loop")
    assert exporter.schema_reference(loop) == exporter.SCHEMA_URL  # no RuntimeError from resolve()
    assert exporter.declared_elsewhere(loop, "acme", "web", [], [loop / "web.yml"]) == []


def test_a_variable_whose_key_is_empty_keeps_its_key_and_the_written_file_validates(tmp_path: Path) -> None:
    from reconciler.importer.cleaning import clean_action

    cleaned = clean_action({"name": "B", "type": "DOCKER_BUILD_MULTI_ARCH", "variables": [{"key": "", "value": "v"}]})
    assert cleaned["variables"] == [{"key": "", "value": "v"}]
    path = tmp_path / "c.yml"
    action = json.dumps(cleaned)
    path.write_text(f"workspace: w\nproject: p\npipelines:\n  - name: P\n    actions: [{action}]\n")
    assert not [w for w in load_config([path]).warnings if w.severity == "error"]


def test_a_file_to_write_that_is_a_directory_is_refused_before_anything_is_written_even_with_force(tmp_path: Path):
    (tmp_path / "web" / "nightly-builds.yml").mkdir(parents=True)
    for force in (False, True):
        with pytest.raises(ExportWriteError, match=r"nightly-builds\.yml: it is a directory; nothing was written"):
            export(fake(), "acme", "web", output=tmp_path, split=True, force=force)
        assert not (tmp_path / "web" / "release-images.yml").exists()


def test_a_write_that_fails_midway_names_the_files_already_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    real = exporter.atomic.write_file

    def full_disk(path: Path, text: str, **kwargs: Any) -> None:
        if path.name == "nightly-builds.yml":
            raise OSError(28, "No space left on device")
        real(path, text, **kwargs)

    monkeypatch.setattr(exporter.atomic, "write_file", full_disk)
    written = tmp_path / "web" / "release-images.yml"
    with pytest.raises(ExportWriteError) as failed:
        export(fake(), "acme", "web", output=tmp_path, split=True)
    assert str(failed.value) == (
        f"cannot write {tmp_path / 'web' / 'nightly-builds.yml'}: No space left on device; written before it: {written}"
    )
    assert written.exists()


def test_an_import_without_force_never_replaces_a_file_written_after_its_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    target = tmp_path / "web.yml"
    real_fsync = os.fsync

    def another_import_lands(fd: int) -> None:  # the other import writes between this one's check and rename
        real_fsync(fd)
        if not target.exists():
            target.write_text("the other import's pipelines\n", encoding="utf-8")

    monkeypatch.setattr(os, "fsync", another_import_lands)
    with pytest.raises(OutputExistsError, match=r"web\.yml; nothing was written"):
        export(fake(), "acme", "web", output=tmp_path)
    assert target.read_text(encoding="utf-8") == "the other import's pipelines\n"
    assert sorted(os.listdir(tmp_path)) == ["web.yml"]  # no temporary file left
