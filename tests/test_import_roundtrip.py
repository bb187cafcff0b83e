"""reconcile import against the sandbox over real HTTP: right after an import, a plan of what it wrote
finds nothing to change, and validate accepts every file it wrote."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from reconciler import engine
from reconciler.buddy.client import BuddyClient
from reconciler.config.build import load_config
from reconciler.errors import ProjectNotFoundError
from reconciler.importer.exporter import ExportResult, export
from reconciler.model import MULTI_ARCH
from reconciler.plan.diff import Options
from reconciler.sandbox import DEFAULT_TOKEN, SandboxApp, SandboxServer, SandboxState

EXAMPLES_STATE = Path(__file__).resolve().parent.parent / "examples" / "sandbox-state.json"
SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"

_CONDITION_KEYS = {
    "trigger_condition": "VAR_IS",
    "trigger_condition_paths": ["src/", "Dockerfile"],
    "trigger_variable_key": "DEPLOY",
    "trigger_variable_value": "${env:LITERALLY_THIS}",  # a literal reference: must be escaped
    "trigger_hours": [1, 13],
    "trigger_days": [1, 5],
    "timezone": "Europe/Warsaw",
    "trigger_project_name": "web",
    "trigger_pipeline_name": "Release images",
    "trigger_user": "ops@acme.test",
    "trigger_group": "ops",
}

#: One multi-arch action with every writable field of action.schema.json set (none at its default),
#: nested objects with every key. ``current_revision`` is read-only but seeded to show it is not written.
EVERY_FIELD: dict[str, Any] = {
    "name": "Build everything",
    "type": MULTI_ARCH,
    "trigger_time": "ON_FAILURE",
    "run_only_on_first_failure": True,
    "trigger_conditions": [_CONDITION_KEYS, {"trigger_condition": "ALWAYS"}],
    "run_next": "IN_SOFT_PARALLEL",
    "variables": [
        {
            "key": "NODE_ENV",
            "value": "production",
            "type": "VAR",
            "encrypted": False,
            "settable": True,
            "description": "the build mode",
        },
        {"key": "ONLY_KEY_AND_VALUE", "value": "$${env:X} and $BUDDY_VAR"},
    ],
    "disabled": True,
    "timeout": 1800,
    "ignore_errors": True,
    "retry_count": 3,
    "retry_interval": 60,
    "loop": ["amd64", "arm64"],
    "current_revision": "0123abcd",
    "permissions": {
        "others": "READ_ONLY",
        "users": [{"id": 11, "access_level": "READ_WRITE"}],
        "groups": [{"id": 21, "access_level": "RUN_ONLY"}, {"id": 22, "access_level": "DENIED"}],
    },
    "docker_image_tag": "$BUDDY_EXECUTION_REVISION",
    "repository": "acme/everything",
    "registry": "registry.acme.test:5000",
    "insecure_registry": True,
    "region": "eu-central-1",
    "login": "robot$acme",
    "password": "plain-password-hashed-by-the-sandbox",
    "target_stage": "runtime",
    "do_not_prune_images": True,
    "versions": ["1.0", "latest"],
    "docker_registry": "OTHER",
    "target_platform": "linux/arm64, linux/amd64,linux/arm/v7",
    "cache_mode": "MAX",
    "pull": False,
    "target_path": "/out",
    "use_image_from_action": True,
    "docker_build_action_id": 4242,
    "docker_build_action_name": "Build base image",
    "image_location": "ACTION",
    "dockerfile_path": "docker/Dockerfile.${env:NOT_A_REF}",
    "context_path": "/",
    "provenance": "MAX",
    "build_args": ["A=1", "B=${env:LITERAL}", "C=$$${env:ALSO_LITERAL}"],
    "secrets": [
        {"id": "npmrc", "type": "FILE", "value": "secret-file-content"},
        {"id": "api.token", "type": "ENV", "value": "secret-env-value"},
        {"id": "no-value", "type": "ENV"},
    ],
    "integration": {"hash_id": "int-hash-only"},
    "package": "acme/pkg",
}

PIPELINE_EVERY_FIELD: dict[str, Any] = {
    "name": "Every field",
    "identifier": "all-the-fields",
    "refs": ["refs/heads/main", "refs/tags/*"],
    "events": [{"type": "PUSH", "refs": ["refs/heads/main"]}, {"type": "CREATE_REF", "refs": ["refs/tags/*"]}],
    "trigger_conditions": [{"trigger_condition": "ON_CHANGE"}],
    "priority": "HIGH",
    "cpu": "ARM",
    "disabled": True,
    "paused": True,
    "always_from_scratch": True,
    "auto_clear_cache": True,
    "no_skip_to_most_recent": True,
    "fetch_all_refs": True,
    "fail_on_prepare_env_warning": True,
    "do_not_create_commit_status": True,
    "ignore_fail_on_project_status": True,
    "concurrent_pipeline_runs": True,
    "description_required": True,
    "clone_depth": 1,
    "tags": ["images", "arm"],
    "execution_message_template": "Release $BUDDY_EXECUTION_REVISION",
    "target_site_url": "https://acme.test",
}


def _multi(action_id: int, name: str, **fields: Any) -> dict[str, Any]:
    return {"id": action_id, "name": name, "type": MULTI_ARCH, **fields}


GENERATED_SEED: dict[str, Any] = {
    "workspaces": {
        "gen": {
            "projects": {
                "everything": {
                    "pipelines": [
                        {
                            **PIPELINE_EVERY_FIELD,
                            "id": 1,
                            "actions": [
                                {"id": 10, "name": "Run tests", "type": "BUILD", "commands": ["make test"]},
                                {**EVERY_FIELD, "id": 11},
                                {"id": 12, "name": "Notify", "type": "SLACK", "content": "done"},
                                _multi(13, "Minimal"),
                                _multi(
                                    14,
                                    "Server defaults written out",
                                    trigger_time="ON_EVERY_EXECUTION",
                                    disabled=False,
                                    target_platform="linux/amd64",
                                    build_args=[],
                                    target_stage="",
                                ),
                                _multi(
                                    15,
                                    "Docker Hub",
                                    docker_registry="DOCKER_HUB",
                                    repository="acme/web",
                                    login="acme-bot",
                                    password="hub-token",
                                    integration={"identifier": "hub", "hash_id": "hub"},
                                ),
                                {"id": 16, "name": "Deploy", "type": "SSH_COMMAND"},
                            ],
                        },
                        {
                            "id": 2,
                            "name": "Second",
                            "actions": [
                                # the same login at the same registry: one variable
                                _multi(
                                    20,
                                    "Docker Hub",
                                    docker_registry="DOCKER_HUB",
                                    login="acme-bot",
                                    password="hub-token",
                                ),
                                # another login there: another variable
                                _multi(
                                    21,
                                    "Docker Hub (other login)",
                                    docker_registry="DOCKER_HUB",
                                    login="someone-else",
                                    password="x",
                                ),
                                _multi(
                                    22,
                                    "ECR",
                                    docker_registry="AMAZON_ECR",
                                    region="us-east-1",
                                    secrets=[{"id": "npmrc", "type": "FILE", "value": "s"}],
                                ),
                            ],
                        },
                        {
                            "id": 3,
                            "name": "Twins",
                            "actions": [
                                _multi(30, "Build"),
                                _multi(31, "Build", cache_mode="MIN"),
                                {"id": 32, "name": "Push", "type": "BUILD"},
                                {"id": 33, "name": "Push", "type": MULTI_ARCH},
                                _multi(34, "Unique", cache_mode="MIN"),
                            ],
                        },
                        {"id": 4, "name": "Empty", "actions": []},
                        {"id": 5, "name": "Only others", "actions": [{"id": 50, "name": "Lint", "type": "BUILD"}]},
                        {"id": 6, "name": "Defined in YAML", "git_config_ref": "FIXED", "actions": []},
                        {"id": 7, "name": "Remote", "definition_source": "REMOTE", "actions": []},
                        {"id": 8, "name": "Same name", "actions": [_multi(80, "A")]},
                        {"id": 9, "name": "Same name", "actions": [_multi(90, "A", cache_mode="MAX")]},
                    ]
                }
            }
        }
    }
}


@pytest.fixture
def generated_server(request: pytest.FixtureRequest) -> Iterator[tuple[str, str, SandboxApp]]:
    """The generated workspace served on loopback; ``request.param`` are sandbox switches."""
    app = SandboxApp(SandboxState.from_data(copy.deepcopy(GENERATED_SEED)))
    switches = getattr(request, "param", {}) or {}
    if switches:
        app.set_switches(**switches)
    with SandboxServer(app) as server:
        yield server.url, DEFAULT_TOKEN, app


def import_then_plan(
    url: str, token: str, workspace: str, project: str, output: Path, *, split: bool = False, defaults: bool = False
):
    """Import, validate what was written, and plan it with the printed variables set."""
    with BuddyClient(url, token) as client:
        result = export(client, workspace, project, output=output, split=split, defaults=defaults)
        assert result.files, result.notes
        config = load_config(list(result.files))
        assert not [w for w in config.warnings if w.severity == "error"]
        env = {name: f"value-of-{name}" for name in result.env}
        plan = engine.plan(engine.given(client), [output], Options(env=env))
    return result, plan


def assert_no_changes(plan: Any) -> None:
    details = [(c.kind, c.pipeline, c.action_name, c.diff) for c in plan.changes]
    assert not plan.errors, plan.errors
    assert not plan.has_changes, details
    assert not plan.warnings, plan.warnings  # no order warning, no unknown normalisation


# -- (b) a generated workspace with every field ----------------------------------------------------


@pytest.mark.parametrize(
    "generated_server",
    [{}, {"normalize_target_platform": True}, {"hide_request_only_fields": True}],
    indirect=True,
    ids=["plain", "normalized-platforms", "request-only-fields-hidden"],
)
@pytest.mark.parametrize("split", [False, True], ids=["one-file", "split"])
def test_a_plan_right_after_import_has_no_changes(
    generated_server: tuple[str, str, SandboxApp], tmp_path: Path, split: bool
):
    url, token, _app = generated_server
    result, plan = import_then_plan(url, token, "gen", "everything", tmp_path, split=split)
    assert_no_changes(plan)
    skipped = {s.pipeline for s in plan.skipped}
    assert not skipped  # YAML-defined pipelines were not written, so the plan does not see them
    assert any('"Defined in YAML" (#6) skipped' in n for n in result.notes)
    assert any('"Remote" (#7) skipped' in n for n in result.notes)


def test_every_field_is_written_and_declared(generated_server: tuple[str, str, SandboxApp], tmp_path: Path):
    url, token, _app = generated_server
    result, plan = import_then_plan(url, token, "gen", "everything", tmp_path)
    assert_no_changes(plan)
    config = load_config([tmp_path])
    by_name = {(p.name, p.id): p for p in config.pipelines}
    every = by_name[("Every field", None)]
    action = next(a for a in every.actions if a.name == "Build everything")
    action_schema = json.loads((SCHEMAS / "action.schema.json").read_text(encoding="utf-8"))
    read_only = {"url", "html_url", "id", "last_execution_status", "pipeline", "current_revision", "after_action_id"}
    assert set(action.fields) == set(action_schema["properties"]) - read_only
    assert action.fields["password"].startswith("${env:")
    assert [s.get("value") for s in action.fields["secrets"]] == [
        "${env:BUILD_EVERYTHING_SECRET_NPMRC}",
        "${env:BUILD_EVERYTHING_SECRET_API_TOKEN}",
        None,
    ]
    assert action.fields["integration"] == {"identifier": "int-hash-only"}
    assert action.fields["trigger_conditions"][0] == {
        **_CONDITION_KEYS,
        "trigger_variable_value": "$${env:LITERALLY_THIS}",
    }
    assert action.fields["permissions"] == EVERY_FIELD["permissions"]
    assert set(every.fields) == set(PIPELINE_EVERY_FIELD) - {"name"}
    assert [a.name for a in every.actions] == [
        "Build everything",
        "Minimal",
        "Server defaults written out",
        "Docker Hub",
    ]
    defaults = next(a for a in every.actions if a.name == "Server defaults written out")
    assert set(defaults.fields) == {"name", "type"}

    text = (tmp_path / "everything.yml").read_text(encoding="utf-8")
    assert not re.search(r"encrypted:[0-9a-f]", text)  # no encrypted blob, and no plaintext either
    assert "hub-token" not in text and "secret-file-content" not in text
    assert '# (live action "Run tests", BUILD, #10 — not managed here)' in text

    assert list(result.env) == [
        "BUILD_EVERYTHING_SECRET_NPMRC",
        "BUILD_EVERYTHING_SECRET_API_TOKEN",
        "REGISTRY_ACME_TEST_PASSWORD",
        "DOCKERHUB_PASSWORD",
        "DOCKERHUB_SOMEONE_ELSE_PASSWORD",
        "ECR_SECRET_NPMRC",
    ]
    twins = by_name[("Twins", None)]
    assert twins.prune is False
    assert [a.name for a in twins.actions] == ["Unique"]
    assert sorted(p.id for p in config.pipelines if p.name is None) == [8, 9]


def test_imported_pipeline_settings_are_managed_afterwards(
    generated_server: tuple[str, str, SandboxApp], tmp_path: Path
):
    url, token, _app = generated_server
    _result, plan = import_then_plan(url, token, "gen", "everything", tmp_path)
    assert_no_changes(plan)  # every pipeline setting was written, and compares equal
    with BuddyClient(url, token) as client:
        client.update_pipeline("gen", "everything", 1, {"priority": "LOW", "tags": None, "paused": False})
        drifted = engine.plan(engine.given(client), [tmp_path], Options())
    [change] = drifted.changes
    assert (change.kind, change.pipeline_id) == ("update_pipeline", 1)
    assert change.fields == {"priority": "HIGH", "tags": ["images", "arm"], "paused": True}
    assert change.diff is not None and change.diff["priority"] == {"from": "LOW", "to": "HIGH"}


def test_with_prune_the_plan_deletes_nothing_either(generated_server: tuple[str, str, SandboxApp], tmp_path: Path):
    url, token, _app = generated_server
    with BuddyClient(url, token) as client:
        export(client, "gen", "everything", output=tmp_path)
        plan = engine.plan(engine.given(client), [tmp_path], Options(prune=True))
    assert_no_changes(plan)


def test_import_of_one_pipeline(generated_server: tuple[str, str, SandboxApp], tmp_path: Path):
    url, token, _app = generated_server
    with BuddyClient(url, token) as client:
        result = export(client, "gen", "everything", pipelines=["Second"], output=tmp_path)
        plan = engine.plan(engine.given(client), [tmp_path], Options())
    assert_no_changes(plan)
    assert [p.name for p in load_config(result.files).pipelines] == ["Second"]


def test_an_unknown_project_is_an_error_naming_it(generated_server: tuple[str, str, SandboxApp], tmp_path: Path):
    url, token, _app = generated_server
    with BuddyClient(url, token) as client, pytest.raises(ProjectNotFoundError, match="'nowhere'"):
        export(client, "gen", "nowhere", output=tmp_path)
    assert not list(tmp_path.iterdir())


def _two_projects_one_action_name() -> dict[str, Any]:
    def build(action_id: int, login: str, registry: str) -> dict[str, Any]:
        secret = {"id": "npmrc", "type": "FILE", "value": f"npmrc of {login}"}
        return _multi(action_id, "Build", login=login, registry=registry, password=login, secrets=[secret])

    def pipeline(pipeline_id: int, name: str, action: dict[str, Any]) -> dict[str, Any]:
        return {"id": pipeline_id, "name": name, "actions": [action]}

    web = [pipeline(1, "Release", build(10, "alice", "r1.test")), pipeline(2, "Nightly", build(20, "bob", "r2.test"))]
    api = [pipeline(3, "Release", build(30, "carol", "r1.test"))]
    return {"workspaces": {"w": {"projects": {"web": {"pipelines": web}, "api": {"pipelines": api}}}}}


def test_imports_into_one_directory_never_reuse_a_variable_for_another_value(tmp_path: Path):
    app = SandboxApp(SandboxState.from_data(_two_projects_one_action_name()))
    names: list[str] = []
    with SandboxServer(app) as server, BuddyClient(server.url, DEFAULT_TOKEN) as client:
        for project, pipelines in (("web", ["Release"]), ("web", ["Nightly"]), ("api", [])):
            result = export(client, "w", project, pipelines=pipelines, output=tmp_path, split=bool(pipelines))
            names.extend(result.env)
        again = export(client, "w", "api", output=tmp_path, force=True)  # its own file's names are its own
        plan = engine.plan(engine.given(client), [tmp_path], Options())
    assert_no_changes(plan)
    assert len(names) == len(set(names)) == 6, names  # three secrets and three logins: six values
    assert list(again.env) == names[4:]


class _ServerExtras:
    """The sandbox, answering GETs with keys a real server may add inside nested objects."""

    def __init__(self, app: SandboxApp) -> None:
        self.app = app

    @staticmethod
    def _add(value: Any) -> Any:
        if isinstance(value, dict):
            extra = {"id": 99} if {"trigger_condition", "key", "access_level"} & set(value) else {}
            extra |= {"created": "2026-01-01"} if "value" in value and "key" not in value else {}
            extra |= {"html_url": "https://x"} if value.get("type") == "PUSH" else {}
            return extra | {k: _ServerExtras._add(v) for k, v in value.items()}  # never changes a key
        if isinstance(value, list):
            return [_ServerExtras._add(v) for v in value]
        return value

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        answer: dict[str, Any] = {}
        body = b"".join(self.app(environ, lambda status, headers, *_: answer.update(status=status)))
        if environ["REQUEST_METHOD"] == "GET" and answer["status"].startswith("200"):
            body = json.dumps(self._add(json.loads(body))).encode()
        start_response(answer["status"], [("Content-Type", "application/json")])
        return [body]


def test_keys_a_server_adds_inside_nested_objects_are_not_written(tmp_path: Path):
    app = SandboxApp(SandboxState.from_data(copy.deepcopy(GENERATED_SEED)))
    transport = httpx.WSGITransport(app=_ServerExtras(app))
    with BuddyClient("http://127.0.0.1", DEFAULT_TOKEN, transport=transport) as client:
        result = export(client, "gen", "everything", output=tmp_path)
        load_config(list(result.files))  # valid: no key the schema does not know
        plan = engine.plan(engine.given(client), [tmp_path], Options())
    assert_no_changes(plan)
    assert any("variables[].id" in n and "permissions.users[].id" not in n for n in result.notes), result.notes


@pytest.mark.parametrize("only", [[], ["Release"]], ids=["all", "named"])
def test_a_pipeline_named_like_a_yaml_defined_one_is_declared_by_id(tmp_path: Path, only: list[str]):
    yaml_defined = {"id": 1, "name": "Release", "git_config_ref": "FIXED", "actions": []}
    ours = {"id": 2, "name": "Release", "actions": [_multi(20, "Build")]}
    seed = {"workspaces": {"w": {"projects": {"p": {"pipelines": [yaml_defined, ours]}}}}}
    app = SandboxApp(SandboxState.from_data(seed))
    with SandboxServer(app) as server, BuddyClient(server.url, DEFAULT_TOKEN) as client:
        result = export(client, "w", "p", pipelines=only, output=tmp_path)
        plan = engine.plan(engine.given(client), [tmp_path], Options())
    assert_no_changes(plan)
    assert [p.id for p in load_config(result.files).pipelines] == [2]


# -- the conftest sandbox and (a) the examples' live state ------------------------------------------


def test_the_shared_sandbox_seed_round_trips(sandbox_server: Any, tmp_path: Path):
    result, plan = import_then_plan(sandbox_server.url, sandbox_server.token, "acme", "web", tmp_path)
    assert_no_changes(plan)
    assert list(result.env) == ["BUILD_APP_IMAGE_PASSWORD"]  # no registry given: named after the action


def test_import_with_defaults_writes_shared_values_once_and_round_trips(
    generated_server: tuple[str, str, SandboxApp], tmp_path: Path
):
    url, token, _app = generated_server
    result, plan = import_then_plan(url, token, "gen", "everything", tmp_path, defaults=True)
    assert_no_changes(plan)
    written = yaml.safe_load(result.files[0].read_text())
    with_defaults = [p for p in written["pipelines"] if "defaults" in p]
    assert with_defaults, "no pipeline got a defaults: block"
    for pipeline in with_defaults:
        assert len(pipeline["actions"]) >= 2
        assert pipeline["defaults"]["type"] == "DOCKER_BUILD_MULTI_ARCH"
        for action in pipeline["actions"]:
            assert not set(pipeline["defaults"]) & set(action)  # said once, not repeated per action


def test_a_pipeline_with_one_action_gets_no_defaults_block(sandbox_server: Any, tmp_path: Path):
    result, plan = import_then_plan(sandbox_server.url, sandbox_server.token, "acme", "web", tmp_path, defaults=True)
    assert_no_changes(plan)
    assert "defaults:" not in result.files[0].read_text()  # the seed's pipeline has one multi-arch action


EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "acme"
#: Just enough live state for the examples to apply: the projects, and the BUILD action that
#: web.yml's first action is placed after.
EXAMPLES_BASE: dict[str, Any] = {
    "workspaces": {
        "acme": {
            "projects": {
                "web": {
                    "pipelines": [
                        {
                            "id": 7,
                            "name": "Release images",
                            "actions": [{"id": 40, "name": "Run tests", "type": "BUILD"}],
                        }
                    ]
                },
                "api": {"pipelines": []},
                "data-platform": {"pipelines": []},
            }
        }
    }
}


def test_what_the_examples_apply_imports_back_to_an_empty_plan(tmp_path: Path):
    app = SandboxApp(SandboxState.from_data(copy.deepcopy(EXAMPLES_BASE)))
    with SandboxServer(app) as server, BuddyClient(server.url, DEFAULT_TOKEN) as client:
        examples = load_config([EXAMPLES])
        _plan, report = engine.apply(engine.given(client), [EXAMPLES], Options(sandbox=True))
        assert report.ok, [(o.status, o.message) for o in report.outcomes]
        env: dict[str, str] = {}
        for project in ("web", "api", "data-platform"):
            result = export(client, "acme", project, output=tmp_path)
            env.update(dict.fromkeys(result.env, "x"))
        assert sorted(p.name for p in load_config([tmp_path]).pipelines) == sorted(
            p.name for p in examples.pipelines if p.name is not None
        )
        plan = engine.plan(engine.given(client), [tmp_path], Options(env=env))
    assert_no_changes(plan)
    web = (tmp_path / "web.yml").read_text(encoding="utf-8")
    assert '# (live action "Run tests", BUILD, #40 — not managed here)' in web


def _projects(seed: dict[str, Any]) -> list[tuple[str, str]]:
    workspaces = seed.get("workspaces", {})
    return [(ws, project) for ws, body in workspaces.items() for project in body.get("projects", {})]


@pytest.mark.skipif(not EXAMPLES_STATE.exists(), reason="examples/sandbox-state.json is not there yet")
def test_the_examples_live_state_round_trips(tmp_path: Path):
    seed = json.loads(EXAMPLES_STATE.read_text(encoding="utf-8"))
    app = SandboxApp(SandboxState.from_data(seed))
    written: list[Path] = []
    with SandboxServer(app) as server:
        for workspace, project in _projects(seed):
            output = tmp_path / workspace
            with BuddyClient(server.url, DEFAULT_TOKEN) as client:
                result: ExportResult = export(client, workspace, project, output=output, split=True)
                if not result.files:
                    continue
                written.extend(result.files)
                load_config(list(result.files))
                plan = engine.plan(engine.given(client), result.files, Options(env=dict.fromkeys(result.env, "x")))
            assert_no_changes(plan)
    assert written, "the examples' live state has no pipeline to import"


class _NewerServer(_ServerExtras):
    """A newer server: every pipeline answered with a setting the model does not know."""

    @staticmethod
    def _add(value: Any) -> Any:
        value = _ServerExtras._add(value)
        if isinstance(value, dict) and "definition_source" in value:
            value = {**value, "future_setting": "on"}
        return value


def test_live_keys_the_model_does_not_know_are_named_and_the_file_stays_valid(tmp_path: Path):
    app = SandboxApp(SandboxState.from_data(copy.deepcopy(GENERATED_SEED)))
    transport = httpx.WSGITransport(app=_NewerServer(app))
    with BuddyClient("http://127.0.0.1", DEFAULT_TOKEN, transport=transport) as client:
        result = export(client, "gen", "everything", output=tmp_path)
        load_config(list(result.files))  # valid: nothing unknown written
        plan = engine.plan(engine.given(client), [tmp_path], Options())
    assert_no_changes(plan)
    every = 'gen/everything pipeline "Every field"'
    assert f"{every}: future_setting: not managed: edit it in Buddy" in result.notes, result.notes
    assert f"{every}: events[].html_url: not managed: edit it in Buddy" in result.notes
    assert f"{every}: trigger_conditions[].id: not managed: edit it in Buddy" in result.notes


def test_a_pipeline_with_only_buddys_defaults_is_imported_as_its_name_and_actions(tmp_path: Path):
    defaults = {name: False for name in ("paused", "disabled", "fetch_all_refs", "manage_variables_by_yaml")}
    live = {
        "id": 3, "name": "Plain", "priority": "NORMAL", "cpu": "X64", "clone_depth": 0, "refs": [], "tags": [],
        "execution_message_template": "$BUDDY_EXECUTION_REVISION_SUBJECT", **defaults,
        "actions": [_multi(30, "Build")],
    }  # fmt: skip
    app = SandboxApp(SandboxState.from_data({"workspaces": {"w": {"projects": {"p": {"pipelines": [live]}}}}}))
    with SandboxServer(app) as server, BuddyClient(server.url, DEFAULT_TOKEN) as client:
        result = export(client, "w", "p", output=tmp_path)
        plan = engine.plan(engine.given(client), [tmp_path], Options())
    assert_no_changes(plan)
    (pipeline,) = yaml.safe_load(result.files[0].read_text(encoding="utf-8"))["pipelines"]
    assert list(pipeline) == ["name", "actions"]


@pytest.mark.parametrize(
    "settings",
    [
        {"events": [{"type": "SCHEDULE", "cron": "0 3 * * *", "timezone": "Europe/Warsaw", "refs": ["main"]}]},
        {"events": [{"type": "SCHEDULE", "start_date": "2026-01-01T00:00:00Z", "delay": 60}], "paused": True},
        {"events": [{"type": "PULL_REQUEST", "events": ["opened", "synchronize"], "branches": ["main"]}]},
        {"permissions": {"others": "READ_ONLY", "users": [{"id": 1, "access_level": "READ_WRITE"}]}},
        {
            "pause_on_repeated_failures": 3,
            "worker": "w1",
            "loop": ["REGION"],
            "disabled_reason": "frozen",
            "git_changeset_base": "PULL_REQUEST",
            "filesystem_changeset_base": "CONTENTS",
            "trigger_conditions": [{"trigger_condition": "DATETIME", "trigger_hours": [1], "timezone": "UTC"}],
        },
    ],
    ids=["schedule-cron", "schedule-interval", "pull-request", "permissions", "other-settings"],
)
def test_a_pipeline_of_the_whole_model_imports_to_a_valid_file_and_an_empty_plan(
    tmp_path: Path, settings: dict[str, Any]
):
    live = {"id": 3, "name": "Modelled", **settings, "actions": [_multi(30, "Build")]}
    app = SandboxApp(SandboxState.from_data({"workspaces": {"w": {"projects": {"p": {"pipelines": [live]}}}}}))
    with SandboxServer(app) as server, BuddyClient(server.url, DEFAULT_TOKEN) as client:
        result = export(client, "w", "p", output=tmp_path)
        load_config(list(result.files))
        plan = engine.plan(engine.given(client), [tmp_path], Options())
    assert_no_changes(plan)
    (pipeline,) = yaml.safe_load(result.files[0].read_text(encoding="utf-8"))["pipelines"]
    assert {k: pipeline[k] for k in settings} == settings
