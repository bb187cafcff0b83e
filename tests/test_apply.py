"""apply over real HTTP against the sandbox: order, convergence, faults, saved plans, safety."""

from __future__ import annotations

import contextlib
import copy
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import FAST_RETRY, served, writes

from reconciler import engine
from reconciler.apply import INTERRUPTED, ApplyOptions, ApplyReport, Looks
from reconciler.buddy.client import BuddyClient, ClientSettings, RetryPolicy
from reconciler.errors import StalePlanError, TargetMismatchError, UnsafePlanError
from reconciler.plan.diff import Options
from reconciler.plan.plan import Plan
from reconciler.plan.planfile import plan_from_json
from reconciler.sandbox import DEFAULT_TOKEN, FaultRule, SandboxApp, SandboxServer, SandboxState

MA = "DOCKER_BUILD_MULTI_ARCH"
CONFIG = """\
workspace: acme
project: web
pipelines:
  - name: Release
    actions:
      - {name: Build A, type: DOCKER_BUILD_MULTI_ARCH, dockerfile_path: a/Dockerfile, cache_mode: MAX}
      - {name: Build B, type: DOCKER_BUILD_MULTI_ARCH, dockerfile_path: b/Dockerfile, password: "${env:PW}"}
      - {name: Build C, type: DOCKER_BUILD_MULTI_ARCH, dockerfile_path: c/Dockerfile}
      - {name: Build D, type: DOCKER_BUILD_MULTI_ARCH, dockerfile_path: d/Dockerfile}
  - name: Nightly
    actions:
      - {name: Build N1, type: DOCKER_BUILD_MULTI_ARCH, dockerfile_path: n1/Dockerfile}
      - {name: Build N2, type: DOCKER_BUILD_MULTI_ARCH, dockerfile_path: n2/Dockerfile}
"""
SEED: dict[str, Any] = {
    "workspaces": {
        "acme": {
            "projects": {
                "web": {
                    "pipelines": [
                        {
                            "id": 7,
                            "name": "Release",
                            "actions": [
                                {"id": 40, "name": "Checkout", "type": "BUILD"},
                                {"id": 41, "name": "Build B", "type": MA, "dockerfile_path": "b/Dockerfile"},
                                {"id": 42, "name": "Run tests", "type": "BUILD"},
                                {"id": 43, "name": "Build D", "type": MA, "dockerfile_path": "old/Dockerfile"},
                                {"id": 44, "name": "Notify", "type": "SLACK"},
                            ],
                        },
                        {"id": 8, "name": "Nightly", "actions": []},
                    ]
                }
            }
        }
    },
}
OPTIONS = Options(env={"PW": "s3cret-password"})
#: the looks after an uncertain create, without waiting
QUICK_LOOKS = Looks(delays=(0.0, 0.0), sleep=lambda _s: None)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "web.yml"
    path.write_text(CONFIG)
    return path


def names(app: SandboxApp, pipeline: str) -> list[str]:
    for _ws, _pr, live in app.state.iter_pipelines():
        if live.name == pipeline:
            return [a.name for a in live.actions]
    raise KeyError(pipeline)


def apply_files(
    client: BuddyClient, config: Path, options: Options = OPTIONS, show: Any = None, **kw: Any
) -> tuple[Plan, ApplyReport]:
    """Apply ``config`` through the engine; ``kw`` are ``ApplyOptions``' (looks default to quick ones)."""
    kw.setdefault("looks", QUICK_LOOKS)
    return engine.apply(engine.given(client), [config], options, ApplyOptions(**kw), show=show)


def test_apply_makes_the_file_order_with_undeclared_actions_where_they_were(config: Path) -> None:
    with served(copy.deepcopy(SEED)) as (app, client):
        _plan, report = apply_files(client, config)
        assert report.ok
        assert names(app, "Release") == ["Checkout", "Build A", "Build B", "Build C", "Run tests", "Build D", "Notify"]
        assert names(app, "Nightly") == ["Build N1", "Build N2"]


def test_right_after_apply_the_plan_is_empty_and_a_second_apply_writes_nothing(config: Path) -> None:
    with served(copy.deepcopy(SEED)) as (app, client):
        apply_files(client, config)
        app.reset_stats()
        assert not engine.plan(engine.given(client), [config], OPTIONS).has_changes
        plan, report = apply_files(client, config)
        assert not plan.has_changes and report.outcomes == [] and report.warnings == []
        assert writes(app) == 0


def test_apply_verification_stays_silent_against_the_sandbox(config: Path) -> None:
    with served(copy.deepcopy(SEED)) as (_app, client):
        _plan, report = apply_files(client, config)
        assert report.warnings == []


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "commit_then_error", "methods": ["POST"], "count": 3},
        {"kind": "commit_then_drop", "methods": ["POST"], "count": 3},
        {"kind": "drop", "methods": ["POST", "PATCH", "GET"], "rate": 0.3},
        {"kind": "rate_limit", "rate": 0.3, "retry_after": 0},
        {"kind": "error", "status": 503, "rate": 0.3},
    ],
)
def test_repeated_applies_under_faults_converge_to_one_action_per_declared_name(
    config: Path, fault: dict[str, Any]
) -> None:
    with served(copy.deepcopy(SEED)) as (app, client):
        app.set_faults(FaultRule.from_dict(fault), seed=7)
        for _ in range(4):
            _plan, report = apply_files(client, config)
            if report.ok:
                break
        app.clear_faults()
        release = names(app, "Release")
        assert release == ["Checkout", "Build A", "Build B", "Build C", "Run tests", "Build D", "Notify"]
        assert names(app, "Nightly") == ["Build N1", "Build N2"]
        assert not engine.plan(engine.given(client), [config], OPTIONS).has_changes


def test_a_stale_saved_plan_is_refused_and_changes_nothing(config: Path) -> None:
    with served(copy.deepcopy(SEED)) as (app, client):
        saved = plan_from_json(json.loads(json.dumps(engine.plan(engine.given(client), [config], OPTIONS).to_json())))
        client.update_action("acme", "web", 7, 43, {"dockerfile_path": "changed/Dockerfile"})  # drift after plan
        app.reset_stats()
        with pytest.raises(StalePlanError, match='pipeline "Release"'):
            engine.apply_saved(engine.given(client), saved, OPTIONS)
        assert writes(app) == 0


def test_a_saved_plan_is_stale_when_an_undeclared_action_appears(config: Path) -> None:
    with served(copy.deepcopy(SEED)) as (_app, client):
        saved = engine.plan(engine.given(client), [config], OPTIONS)
        client.create_action("acme", "web", 8, {"name": "Surprise", "type": "BUILD"})
        with pytest.raises(StalePlanError, match='"Nightly"'):
            engine.apply_saved(engine.given(client), saved, OPTIONS)


def test_a_saved_plan_is_stale_when_its_pipeline_was_renamed_in_buddy(config: Path) -> None:
    # the file matches "Release" by name: once renamed in Buddy, the file no longer names that pipeline
    with served(copy.deepcopy(SEED)) as (app, client):
        saved = plan_from_json(json.loads(json.dumps(engine.plan(engine.given(client), [config], OPTIONS).to_json())))
        client.update_pipeline("acme", "web", 7, {"name": "Release (old)"})
        app.reset_stats()
        with pytest.raises(StalePlanError, match='pipeline "Release"'):
            engine.apply_saved(engine.given(client), saved, OPTIONS)
        assert writes(app) == 0


@pytest.mark.parametrize(("key", "value"), [("git_config_ref", "FIXED"), ("definition_source", "REMOTE")])
def test_a_saved_plan_is_stale_when_its_pipeline_became_defined_in_buddy_yaml(
    config: Path, key: str, value: str
) -> None:
    with served(copy.deepcopy(SEED)) as (app, client):
        saved = plan_from_json(json.loads(json.dumps(engine.plan(engine.given(client), [config], OPTIONS).to_json())))
        pipeline = app.state.pipeline("acme", "web", 7)
        assert pipeline is not None
        pipeline.fields[key] = value  # someone moved "Release" to a YAML definition after the plan
        app.reset_stats()
        with pytest.raises(StalePlanError, match='pipeline "Release"'):
            engine.apply_saved(engine.given(client), saved, OPTIONS)
        assert writes(app) == 0


def test_a_fresh_saved_plan_applies_exactly(config: Path) -> None:
    with served(copy.deepcopy(SEED)) as (app, client):
        saved = plan_from_json(json.loads(json.dumps(engine.plan(engine.given(client), [config], OPTIONS).to_json())))
        report = engine.apply_saved(engine.given(client), saved, OPTIONS)
        assert report.ok and len(report.of("applied")) == len(saved.changes)
        assert names(app, "Nightly") == ["Build N1", "Build N2"]


def test_a_plan_for_another_target_is_refused(config: Path) -> None:
    with served(copy.deepcopy(SEED)) as (app, client):
        saved = engine.plan(engine.given(client), [config], OPTIONS)
        saved.target = type(saved.target)(base_url="https://api.buddy.works")
        with pytest.raises(TargetMismatchError, match=r"api\.buddy\.works"):
            engine.apply_saved(engine.given(client), saved, OPTIONS)
        with pytest.raises(TargetMismatchError, match="BUDDY_WORKSPACE"):
            engine.apply_saved(
                engine.given(client), engine.plan(engine.given(client), [config], OPTIONS), OPTIONS, workspace="other"
            )
        assert writes(app) == 0


def test_the_safety_threshold_refuses_before_any_write_and_force_passes(tmp_path: Path) -> None:
    seed = copy.deepcopy(SEED)
    seed["workspaces"]["acme"]["projects"]["web"]["pipelines"][0]["actions"] += [
        {"id": 50 + i, "name": f"Old {i}", "type": MA} for i in range(3)
    ]
    path = tmp_path / "web.yml"
    path.write_text(CONFIG.replace("  - name: Release\n", "  - name: Release\n    prune: true\n"))
    with served(seed) as (app, client):
        warned = engine.plan(engine.given(client), [path], OPTIONS).to_json()["warnings"]
        assert any("would refuse this without --force" in w and "8 live actions" in w for w in warned)
        with pytest.raises(UnsafePlanError, match=r"8 live actions \(of any type\); 3 deletes, over the limit of 30%"):
            apply_files(client, path)
        assert writes(app) == 0
        forced, report = apply_files(client, path, force=True)
        assert report.ok
        assert not any("apply would refuse" in w for w in forced.warnings)
        assert any(w.startswith("the safety check was skipped (--force)") for w in forced.warnings)
        assert any(w.startswith("the safety check was skipped (--force)") for w in report.warnings)
        assert [n for n in names(app, "Release") if n.startswith("Old")] == []
        assert "Notify" in names(app, "Release") and "Checkout" in names(app, "Release")


def test_a_failed_create_stops_the_creates_after_it_but_not_the_other_pipelines(config: Path) -> None:
    with served(copy.deepcopy(SEED), parallelism=1) as (app, client):
        # one pipeline at a time: Release goes first, its first create is refused (a 400: certain)
        app.set_faults({"kind": "deviant", "mode": "echo_authorization", "methods": ["POST"], "count": 1})
        _plan, report = apply_files(client, config)
        failed, skipped = report.of("failed"), report.of("not tried")
        assert [o.change.action_name for o in failed] == ["Build A"]
        assert "400" in (failed[0].message or "")
        assert [o.change.action_name for o in skipped] == ["Build C"]
        assert "Build A" in (skipped[0].message or "")
        assert names(app, "Nightly") == ["Build N1", "Build N2"]  # the other pipeline went on
        assert not report.ok
        app.clear_faults()
        _plan, again = apply_files(client, config)  # a re-run finishes the job
        assert again.ok
        assert names(app, "Release") == ["Checkout", "Build A", "Build B", "Build C", "Run tests", "Build D", "Notify"]


#: One action with every writable field of action.schema.json, nested objects in full.
EVERY_FIELD: dict[str, Any] = {
    "name": "Build everything",
    "type": MA,
    "trigger_time": "ON_FAILURE",
    "run_only_on_first_failure": True,
    "trigger_conditions": [
        {
            "trigger_condition": "VAR_IS",
            "trigger_condition_paths": ["src/"],
            "trigger_variable_key": "DEPLOY",
            "trigger_variable_value": "yes",
            "trigger_hours": [1, 13],
            "trigger_days": [1, 5],
            "timezone": "Europe/Warsaw",
            "trigger_project_name": "web",
            "trigger_pipeline_name": "Release",
            "trigger_user": "ops@acme.test",
            "trigger_group": "ops",
        },
        {"trigger_condition": "ALWAYS"},
    ],
    "run_next": "IN_SOFT_PARALLEL",
    "variables": [
        {
            "key": "NODE_ENV",
            "value": "production",
            "type": "VAR",
            "encrypted": False,
            "settable": True,
            "description": "the build mode",
        }
    ],
    "disabled": True,
    "timeout": 1800,
    "ignore_errors": True,
    "retry_count": 3,
    "retry_interval": 60,
    "loop": ["amd64", "arm64"],
    "permissions": {
        "others": "READ_ONLY",
        "users": [{"id": 11, "access_level": "READ_WRITE"}],
        "groups": [{"id": 21, "access_level": "RUN_ONLY"}],
    },
    "docker_image_tag": "$BUDDY_EXECUTION_REVISION",
    "repository": "acme/everything",
    "registry": "registry.acme.test:5000",
    "insecure_registry": True,
    "region": "eu-central-1",
    "login": "${env:LOGIN}",
    "password": "${env:PW}",
    "target_stage": "runtime",
    "do_not_prune_images": True,
    "versions": ["1.0", "latest"],
    "docker_registry": "OTHER",
    "target_platform": "linux/arm64, linux/amd64,linux/arm/v7",
    "cache_mode": "MAX",
    "pull": False,
    "target_path": "/out",
    "use_image_from_action": True,
    "docker_build_action_name": "Build base image",
    "image_location": "ACTION",
    "dockerfile_path": "docker/Dockerfile.$${env:NOT_A_REF}",
    "context_path": "/",
    "provenance": "MAX",
    "build_args": ["A=1", "B=${env:LOGIN}"],
    "secrets": [{"id": "npmrc", "type": "FILE", "value": "${env:PW}"}, {"id": "token", "type": "ENV"}],
    "integration": {"identifier": "int-1"},
    "package": "acme/pkg",
}


def test_every_field_applies_and_verifies_without_a_warning(tmp_path: Path) -> None:
    import yaml

    config = {
        "workspace": "acme",
        "project": "web",
        "pipelines": [
            {"name": "Everything", "priority": "HIGH", "refs": ["refs/heads/main"], "actions": [EVERY_FIELD]}
        ],
    }
    path = tmp_path / "all.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    options = Options(env={"PW": "pw-1", "LOGIN": "robot"})
    with served(copy.deepcopy(SEED)) as (app, client):
        made, report = apply_files(client, path, options)
        assert report.ok and report.warnings == [], report.warnings
        assert made.summary == {
            "create": 1,
            "update": 0,
            "delete": 0,
            "create_pipeline": 1,
            "update_pipeline": 0,
            "delete_pipeline": 0,
        }
        app.reset_stats()
        again, report = apply_files(client, path, options)
        assert not again.has_changes and writes(app) == 0


# -- pipelines' own fields ------------------------------------------------------------------------------

PIPELINE_CONFIG = """\
workspace: acme
project: web
pipelines:
  - id: 7
    name: Release images
    refs: [refs/heads/main]
    priority: HIGH
    events:
      - {type: PUSH, refs: [refs/heads/main]}
    tags: []
    actions:
      - {name: Build B, type: DOCKER_BUILD_MULTI_ARCH, dockerfile_path: b/Dockerfile}
  - name: Nightly builds
    previous_names: [Nightly]
    disabled: true
    actions: []
"""


@pytest.fixture
def pipeline_config(tmp_path: Path) -> Path:
    path = tmp_path / "web.yml"
    path.write_text(PIPELINE_CONFIG)
    return path


def pipeline_fields(app: SandboxApp, pipeline_id: int) -> dict[str, Any]:
    for _ws, _pr, live in app.state.iter_pipelines():
        if live.id == pipeline_id:
            return dict(live.fields)
    raise KeyError(pipeline_id)


def test_apply_renames_and_updates_pipelines_then_the_plan_is_empty(pipeline_config: Path) -> None:
    with served(copy.deepcopy(SEED)) as (app, client):
        made, report = apply_files(client, pipeline_config)
        assert report.ok and report.warnings == []
        assert [c.kind for c in made.changes] == ["update_pipeline", "update_pipeline"]
        release, nightly = pipeline_fields(app, 7), pipeline_fields(app, 8)
        assert (release["name"], release["refs"], release["priority"]) == (
            "Release images",
            ["refs/heads/main"],
            "HIGH",
        )
        assert release["events"] == [{"type": "PUSH", "refs": ["refs/heads/main"]}]
        assert release.get("tags") is None  # `tags: []` equals the live null: never sent
        assert (nightly["name"], nightly["disabled"]) == ("Nightly builds", True)
        assert names(app, "Release images") == ["Checkout", "Build B", "Run tests", "Build D", "Notify"]
        app.reset_stats()
        again, report = apply_files(client, pipeline_config)
        assert not again.has_changes and report.outcomes == []
        assert writes(app) == 0


def test_the_pipeline_patch_comes_before_the_actions_of_its_pipeline(pipeline_config: Path) -> None:
    pipeline_config.write_text(PIPELINE_CONFIG.replace("b/Dockerfile", "b2/Dockerfile"))
    with served(copy.deepcopy(SEED)) as (app, client):
        app.reset_stats()
        made, report = apply_files(client, pipeline_config)
        assert report.ok
        release = [c.kind for c in made.changes if c.pipeline_id == 7]
        assert release == ["update_pipeline", "update"]
        patches = [e["path"] for e in app.stats(with_log=True)["log"] if e["method"] == "PATCH"]
        release_patches = [path for path in patches if "/pipelines/7" in path]
        assert release_patches[0].endswith("/pipelines/7") and release_patches[1].endswith("/actions/41")


@pytest.mark.parametrize(
    "drift",
    [{"refs": ["refs/heads/hotfix"]}, {"priority": "LOW"}],
    ids=["a field of the list's summary", "a field read with a GET"],
)
def test_a_saved_plan_is_stale_when_a_declared_pipeline_field_changed(
    pipeline_config: Path, drift: dict[str, Any]
) -> None:
    with served(copy.deepcopy(SEED)) as (app, client):
        saved = engine.plan(engine.given(client), [pipeline_config], OPTIONS)
        saved = plan_from_json(json.loads(json.dumps(saved.to_json())))
        client.update_pipeline("acme", "web", 7, drift)
        app.reset_stats()
        with pytest.raises(StalePlanError, match=r'pipeline "Release images" \(#7\)'):
            engine.apply_saved(engine.given(client), saved, OPTIONS)
        assert writes(app) == 0


def test_a_saved_plan_ignores_a_change_of_an_undeclared_pipeline_field(pipeline_config: Path) -> None:
    with served(copy.deepcopy(SEED)) as (app, client):
        saved = plan_from_json(
            json.loads(json.dumps(engine.plan(engine.given(client), [pipeline_config], OPTIONS).to_json()))
        )
        client.update_pipeline("acme", "web", 7, {"paused": True, "cpu": "ARM"})
        report = engine.apply_saved(engine.given(client), saved, OPTIONS)
        assert report.ok and pipeline_fields(app, 7)["priority"] == "HIGH"


# -- creates whose outcome is unknown ------------------------------------------------------------------

NIGHTLY_ONLY = """\
workspace: acme
project: web
pipelines:
  - name: Nightly
    actions:
      - {name: Build N1, type: DOCKER_BUILD_MULTI_ARCH, dockerfile_path: n1/Dockerfile}
      - {name: Build N2, type: DOCKER_BUILD_MULTI_ARCH, dockerfile_path: n2/Dockerfile}
  - name: Release
    actions:
      - {name: Build D, type: DOCKER_BUILD_MULTI_ARCH, dockerfile_path: d/Dockerfile}
"""


@contextlib.contextmanager
def held_writes(
    seed: dict[str, Any], method: str = "POST", retry: RetryPolicy = FAST_RETRY
) -> Iterator[tuple[SandboxApp, BuddyClient, threading.Event]]:
    """A sandbox whose first ``method`` request is held (``late_commit``) until the event is set, then
    committed, and an impatient client (0.2 s timeout) that has given up on it long before."""
    release = threading.Event()
    app = SandboxApp(SandboxState.from_data(seed), sleep=lambda _s: release.wait(10))
    app.set_late_commit(1000, methods=[method], count=1)
    try:
        with (
            SandboxServer(app, poll_interval=0.005) as server,
            BuddyClient(server.url, DEFAULT_TOKEN, ClientSettings(timeout=0.2, parallelism=1, retry=retry)) as client,
        ):
            yield app, client, release
    finally:
        release.set()


def landed(app: SandboxApp, pipeline: str, name: str) -> bool:
    """Wait (bounded) until the held write has landed in the sandbox's state."""
    deadline = time.monotonic() + 5
    while name not in names(app, pipeline) and time.monotonic() < deadline:
        time.sleep(0.01)
    return name in names(app, pipeline)


def landed_field(app: SandboxApp, pipeline_id: int, action_id: int, name: str, value: Any) -> bool:
    """Wait (bounded) until the held PATCH has set ``name`` of the action to ``value``."""
    deadline = time.monotonic() + 5
    while True:
        for _ws, _pr, live in app.state.iter_pipelines():
            found = live.action(action_id) if live.id == pipeline_id else None
            if found is not None and found.fields.get(name) == value:
                return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)


def test_an_uncertain_create_not_seen_again_stops_its_pipeline_and_the_next_run_converges(tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    path.write_text(NIGHTLY_ONLY)
    with held_writes(copy.deepcopy(SEED)) as (app, client, release):
        _plan, report = apply_files(client, path)
        uncertain = report.of("uncertain")
        assert [o.change.action_name for o in uncertain] == ["Build N1"]
        assert "Run `reconcile plan` to see whether it landed" in (uncertain[0].message or "")
        assert "timeout" in (uncertain[0].message or "")
        assert [(o.change.action_name, o.message) for o in report.of("not tried")] == [
            ("Build N2", 'the create of "Build N1" before it has an unknown outcome')
        ]
        assert [o.change.action_name for o in report.of("applied")] == ["Build D"]  # the other pipeline went on
        assert not report.ok  # the CLI exits 1
        assert client.requests["POST"] == 1  # sent once, never again
        release.set()
        assert landed(app, "Nightly", "Build N1")
        _plan, again = apply_files(client, path)
        assert again.ok and [o.change.action_name for o in again.outcomes] == ["Build N2"]
        assert names(app, "Nightly") == ["Build N1", "Build N2"]


def test_an_uncertain_create_found_on_a_later_look_goes_on_with_its_id(tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    path.write_text(NIGHTLY_ONLY)
    with held_writes(copy.deepcopy(SEED)) as (app, client, release):

        def wait_for_the_commit(_seconds: float) -> None:
            release.set()
            landed(app, "Nightly", "Build N1")

        looks = Looks(delays=(0.0, 1.0), sleep=wait_for_the_commit)
        _plan, report = apply_files(client, path, looks=looks)
        assert report.ok, report.outcomes
        first = report.outcomes[0]
        assert (first.change.action_name, first.status) == ("Build N1", "applied")
        assert names(app, "Nightly") == ["Build N1", "Build N2"]
        assert client.requests["POST"] == 2  # N1 once, then N2


def test_an_update_whose_every_attempt_timed_out_is_uncertain_not_failed(tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    path.write_text(CONFIG.split("  - name: Nightly")[0].replace("b/Dockerfile", "b2/Dockerfile"))
    with held_writes(copy.deepcopy(SEED), "PATCH", RetryPolicy(attempts=1)) as (app, client, release):
        _plan, report = apply_files(client, path)
        patched, later = [o for o in report.outcomes if o.change.kind == "update"]
        assert (patched.change.action_name, patched.status) == ("Build B", "uncertain")
        assert (later.change.action_name, later.status) == ("Build D", "applied")  # the pipeline went on
        assert (patched.message or "").startswith(
            "the server did not answer in time; it may have landed: run plan to see"
        )
        assert not report.ok and not report.of("failed")  # the CLI exits 1
        assert client.requests["PATCH"] == 2  # once each: no retry was left
        release.set()
        assert landed_field(app, 7, 41, "dockerfile_path", "b2/Dockerfile")  # it had landed after all


# -- interrupts ----------------------------------------------------------------------------------------


class StopAfterFirst:
    """A progress listener that asks apply to stop once the first change is done (a Ctrl-C)."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.seen: list[str] = []

    def start(self, total: int) -> None:
        pass

    def begin(self, change: Any) -> None:
        pass

    def done(self, outcome: Any) -> None:
        self.seen.append(outcome.status)
        self.stop.set()

    def finish(self) -> None:
        pass


def test_a_stop_ends_the_apply_after_the_change_in_hand_and_a_rerun_converges(config: Path) -> None:
    with served(copy.deepcopy(SEED), parallelism=1) as (app, client):
        stop = threading.Event()
        _plan, report = apply_files(client, config, stop=stop, progress=StopAfterFirst(stop))
        assert report.interrupted and not report.ok
        assert len(report.of("applied")) == 1
        assert report.of("not tried") and all(o.message == INTERRUPTED for o in report.of("not tried"))
        assert len(report.outcomes) == len(_plan.changes)
        _plan, again = apply_files(client, config)
        assert again.ok and not again.interrupted
        assert names(app, "Release") == ["Checkout", "Build A", "Build B", "Build C", "Run tests", "Build D", "Notify"]
        assert names(app, "Nightly") == ["Build N1", "Build N2"]


# -- two applies at once, and --dedupe -------------------------------------------------------------------


def test_two_applies_at_once_never_both_go_green_over_duplicates_and_dedupe_repairs_them(config: Path) -> None:
    app = SandboxApp(SandboxState.from_data(copy.deepcopy(SEED)))
    app.set_faults({"kind": "latency", "ms": 5})
    both_planned = threading.Barrier(2, timeout=10)
    reports: list[ApplyReport] = []
    with SandboxServer(app, poll_interval=0.005) as server:

        def one_apply() -> None:
            with BuddyClient(server.url, DEFAULT_TOKEN, ClientSettings(retry=FAST_RETRY)) as client:
                _plan, report = apply_files(client, config, show=lambda _plan: both_planned.wait())
                reports.append(report)

        racers = [threading.Thread(target=one_apply) for _ in range(2)]
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join(30)
        assert len(reports) == 2
        assert sorted(names(app, "Nightly")) == ["Build N1", "Build N1", "Build N2", "Build N2"]  # both created
        assert not all(r.ok for r in reports)
        errors = [e for r in reports for e in r.errors]
        assert any('2 live actions are named "Build N1"' in e and "--dedupe" in e for e in errors)
        # each created one copy and never saw the other: the evidence points at another apply
        assert all("another apply (or someone in Buddy) most likely added it" in e for e in errors)

        app.clear_faults()
        with BuddyClient(server.url, DEFAULT_TOKEN, ClientSettings(retry=FAST_RETRY)) as client:
            blocked = engine.plan(engine.given(client), [config], OPTIONS)
            assert any('2 live actions are named "Build N1"' in e for e in blocked.errors)  # without --dedupe
            dedupe = Options(env=OPTIONS.env, dedupe=True)
            shown = engine.plan(engine.given(client), [config], dedupe)
            deletes = [c for c in shown.changes if c.kind == "delete"]
            assert {c.pipeline for c in deletes} == {"Release", "Nightly"}
            assert all(c.reason and c.reason.startswith("duplicate: ") for c in deletes)
            assert [c.to_json()["reason"] for c in deletes if c.pipeline == "Nightly"] == [
                f'duplicate: "{name}" #{first} comes first and is kept' for name, first in _later_ones(app, "Nightly")
            ]
            # Nightly: 2 deletes of 4 live actions is over 30%: the safety check applies to --dedupe too
            with pytest.raises(UnsafePlanError, match='pipeline "Nightly"'):
                apply_files(client, config, dedupe)
            _plan, repaired = apply_files(client, config, dedupe, force=True)
            assert repaired.ok, repaired
            assert names(app, "Nightly") == ["Build N1", "Build N2"]
            assert names(app, "Release") == [
                "Checkout", "Build A", "Build B", "Build C", "Run tests", "Build D", "Notify"
            ]  # fmt: skip
            assert not engine.plan(engine.given(client), [config], OPTIONS).has_changes


def test_a_duplicate_of_an_action_the_apply_only_updated_is_named_without_blaming_another_apply(
    config: Path,
) -> None:
    with served(copy.deepcopy(SEED)) as (_app, client):

        def someone_in_buddy(_plan: Any) -> None:  # adds a second "Build D" after the plan read the pipeline
            client.create_action("acme", "web", 7, {"name": "Build D", "type": MA, "dockerfile_path": "x/Dockerfile"})

        _plan, report = apply_files(client, config, show=someone_in_buddy)
    [error] = report.errors
    assert '2 live actions are named "Build D" (#43, #' in error
    assert "this apply created none of them (it changed #43): the name was there already, or was given" in error
    assert "another apply" not in error and "--dedupe" in error


def _later_ones(app: SandboxApp, pipeline: str) -> list[tuple[str, int]]:
    """(name, id of the first of that name) for each later action of a name, in pipeline order."""
    for _ws, _pr, live in app.state.iter_pipelines():
        if live.name == pipeline:
            first: dict[str, int] = {}
            later = []
            for action in live.actions:
                if action.name in first:
                    later.append((action.name, first[action.name]))
                first.setdefault(action.name, int(action.id))
            return later
    raise KeyError(pipeline)


def test_dedupe_keeps_the_first_updates_it_and_leaves_other_types_an_error(tmp_path: Path) -> None:
    seed = copy.deepcopy(SEED)
    seed["workspaces"]["acme"]["projects"]["web"]["pipelines"][1]["actions"] = [
        {"id": 60, "name": "Build N1", "type": MA, "dockerfile_path": "stale/Dockerfile"},
        {"id": 61, "name": "Build N2", "type": MA, "dockerfile_path": "n2/Dockerfile"},
        {"id": 62, "name": "Build N1", "type": MA, "dockerfile_path": "n1/Dockerfile"},
        {"id": 63, "name": "Build N2", "type": "BUILD"},
    ]
    path = tmp_path / "web.yml"
    path.write_text(CONFIG)
    with served(seed) as (_app, client):
        made = engine.plan(engine.given(client), [path], Options(env=OPTIONS.env, dedupe=True))
        # "Build N2" clashes with a BUILD action: not a duplicate to delete, still an error
        assert any('2 live actions are named "Build N2"' in e for e in made.errors)
        seed["workspaces"]["acme"]["projects"]["web"]["pipelines"][1]["actions"].pop()
    with served(seed) as (_app, client):
        made = engine.plan(engine.given(client), [path], Options(env=OPTIONS.env, dedupe=True))
        nightly = [(c.kind, c.action_id) for c in made.changes if c.pipeline == "Nightly"]
        assert nightly == [("update", 60), ("delete", 62)]


class FinishSeen(StopAfterFirst):
    """Progress that notes when every change has an outcome (the check after the changes is next)."""

    def done(self, outcome: Any) -> None:
        self.seen.append(outcome.status)

    def finish(self) -> None:
        self.finished = True


def test_a_stop_during_the_check_after_the_changes_ends_the_check_and_says_it_was_not_done(config: Path) -> None:
    """Ctrl-C while the touched pipelines are read again: no further read is started; the apply is
    reported interrupted (exit 130), with every change applied and the check named as not done."""
    with served(copy.deepcopy(SEED), parallelism=1) as (_app, client):
        stop = threading.Event()
        progress = FinishSeen(stop)
        progress.finished = False
        reads_after: list[int] = []
        real = client.list_actions

        def list_actions(workspace: str, project: str, pipeline_id: int, **kw: Any) -> Any:
            if progress.finished:
                reads_after.append(pipeline_id)
                stop.set()  # the signal arrives during the first read of the check
            return real(workspace, project, pipeline_id)

        client.list_actions = list_actions  # type: ignore[method-assign]
        plan, report = apply_files(client, config, stop=stop, progress=progress)
    assert len(report.of("applied")) == len(plan.changes)
    assert report.interrupted and not report.ok
    assert len(reads_after) == 1  # two pipelines were touched: the second read was not started
    assert any("the check for duplicates after the changes was not done" in w for w in report.warnings)


def test_the_check_after_a_write_compares_secrets_by_id_and_type_and_never_their_values() -> None:
    from reconciler.apply import _PipelineRun
    from reconciler.plan.changes import UpdateAction

    secrets = [{"id": "npmrc", "type": "FILE", "value": "${env:NPMRC}"}]
    change = UpdateAction(
        workspace="acme",
        project="web",
        pipeline="Release",
        pipeline_id=1,
        action_name="Build",
        action_id=7,
        fields={"secrets": secrets, "password": "${env:PW}"},
    )
    body = {"secrets": [{**secrets[0], "value": "resolved"}], "password": "pw"}
    report = ApplyReport()
    run = _PipelineRun(None, report, threading.Lock(), None, threading.Event(), Looks())  # type: ignore[arg-type]
    run.verify(change, body, {"secrets": [{"id": "npmrc", "type": "FILE"}]})  # values never come back
    assert report.warnings == []
    run.verify(change, body, {"secrets": [{"id": "other", "type": "FILE"}]})
    [warning] = report.warnings
    assert "field secrets still differs" in warning and "resolved" not in warning and "(sensitive)" in warning
