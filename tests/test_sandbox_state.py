"""Seeding, persistence and the CLI entry points of the sandbox."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import PROJECT_PATH, tls_context

from reconciler.errors import SandboxError
from reconciler.sandbox import (
    DEFAULT_TOKEN,
    SandboxApp,
    SandboxOptions,
    SandboxServer,
    SandboxState,
    build_app,
    encrypt,
    load_state,
    run_forever,
    start_in_process,
)

ACTIONS = f"{PROJECT_PATH}/pipelines/7/actions"
NEW = {"name": "Build worker image", "type": "DOCKER_BUILD_MULTI_ARCH"}


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def wsgi_client(app: SandboxApp) -> httpx.Client:
    return httpx.Client(
        transport=httpx.WSGITransport(app=app),
        base_url="http://sandbox",
        headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"},
        verify=tls_context(),
    )


# -- seeds -----------------------------------------------------------------------------------------


def test_seed_keeps_ids_and_counts_on_from_the_highest(sandbox_seed: dict[str, Any]) -> None:
    state = SandboxState.from_data(sandbox_seed)
    assert state.next_id == 42
    pipeline = state.pipeline("acme", "web", 7)
    assert pipeline is not None and [a.id for a in pipeline.actions] == [40, 41]
    assert state.pipeline("acme", "other", 7) is None


def test_seed_objects_without_ids_get_fresh_ones() -> None:
    data = {
        "next_id": 100,
        "workspaces": {
            "w": {"projects": {"p": {"pipelines": [{"name": "A", "actions": [{"name": "x", "type": "SLACK"}]}]}}}
        },
    }
    state = SandboxState.from_data(data)
    pipeline = next(p for _, _, p in state.iter_pipelines())
    assert pipeline.id == 100 and pipeline.actions[0].id == 101 and state.next_id == 102


def test_seed_accepts_any_type_with_arbitrary_fields(sandbox_seed: dict[str, Any]) -> None:
    actions = sandbox_seed["workspaces"]["acme"]["projects"]["web"]["pipelines"][0]["actions"]
    actions.append({"id": 50, "name": "Notify", "type": "SLACK", "channel": "#ci", "content": {"x": [1]}})
    actions.append({"id": 51, "name": "Deploy", "type": "SSH_COMMAND", "commands": ["ls"], "password": "pw"})
    with wsgi_client(SandboxApp(SandboxState.from_data(sandbox_seed))) as client:
        slack = client.get(f"{ACTIONS}/50").json()
        assert slack["channel"] == "#ci" and slack["content"] == {"x": [1]} and slack["disabled"] is False
        assert client.get(f"{ACTIONS}/51").json()["password"] == encrypt("pw")
        patched = client.patch(f"{ACTIONS}/50", json={"channel": "#ops", "timeout": 5}).json()
        assert patched["channel"] == "#ops" and patched["timeout"] == 5
        assert client.patch(f"{ACTIONS}/50", json={"timeout": "5"}).status_code == 400


def test_seed_write_only_values_plaintext_or_encrypted() -> None:
    already = encrypt("from-elsewhere")
    action = {
        "id": 1,
        "name": "b",
        "type": "DOCKER_BUILD_MULTI_ARCH",
        "password": already,
        "secrets": [{"id": "s", "type": "ENV", "value": "plain-secret"}],
    }
    data = {"workspaces": {"w": {"projects": {"p": {"pipelines": [{"id": 2, "name": "P", "actions": [action]}]}}}}}
    stored = SandboxState.from_data(data).pipeline("w", "p", 2)
    assert stored is not None
    fields = stored.actions[0].fields
    assert fields["password"] == already
    assert fields["secrets"][0]["value"] == encrypt("plain-secret")


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ([], "$"),
        ({"workspace": {}}, "$.workspace"),
        ({"workspaces": {"w": {"projects": {"p": {"pipelines": [{"id": 1}]}}}}}, "pipelines[0].name"),
        (
            {"workspaces": {"w": {"projects": {"p": {"pipelines": [{"name": "A", "cpu": "Z80"}]}}}}},
            "pipelines[0].cpu",
        ),
        (
            {"workspaces": {"w": {"projects": {"p": {"pipelines": [{"id": 3, "name": "A"}, {"id": 3, "name": "B"}]}}}}},
            "id 3",
        ),
        (
            {
                "workspaces": {
                    "w": {
                        "projects": {
                            "p": {
                                "pipelines": [
                                    {
                                        "name": "A",
                                        "actions": [
                                            {"name": "b", "type": "DOCKER_BUILD_MULTI_ARCH", "cache_mode": "ALL"}
                                        ],
                                    }
                                ]
                            }
                        }
                    }
                }
            },
            "actions[0].cache_mode",
        ),
        (
            {
                "workspaces": {
                    "w": {
                        "projects": {
                            "p": {
                                "pipelines": [
                                    {"name": "A", "actions": [{"name": "b", "type": "DOCKER_BUILD_MULTI_ARCH", "x": 1}]}
                                ]
                            }
                        }
                    }
                }
            },
            "actions[0].x",
        ),
        (
            {"workspaces": {"w": {"projects": {"p": {"pipelines": [{"name": "A", "actions": [{"name": "b"}]}]}}}}},
            "type",
        ),
        ({"next_id": 0}, "next_id"),
    ],
)
def test_bad_seeds_name_the_place(data: Any, fragment: str) -> None:
    with pytest.raises(SandboxError) as caught:
        SandboxState.from_data(data, source="seed.json")
    assert "seed.json" in str(caught.value) and fragment in str(caught.value)


def test_seed_file_errors(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="cannot read"):
        SandboxState.from_file(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "workspaces": oops\n}', encoding="utf-8")
    with pytest.raises(SandboxError, match=r"bad\.json:2:"):
        SandboxState.from_file(bad)


# -- persistence -----------------------------------------------------------------------------------


def test_every_change_is_persisted_and_reload_restores_everything(tmp_path: Path, sandbox_seed: dict[str, Any]) -> None:
    seed = write_json(tmp_path / "seed.json", sandbox_seed)
    seed_text = seed.read_text(encoding="utf-8")
    state_file = tmp_path / "state" / "sandbox.json"
    state, fresh = load_state(seed, state_file)
    assert fresh and state_file.exists()
    app = SandboxApp(state)
    with wsgi_client(app) as client:
        created = client.post(
            ACTIONS, json={**NEW, "password": "p@ss-plain", "secrets": [{"id": "a", "value": "v-plain"}]}
        )
        new_id = created.json()["id"]
        client.patch(f"{ACTIONS}/{new_id}", json={"cache_mode": "MAX"})
        client.delete(f"{ACTIONS}/{new_id}")  # the highest id is gone: it must still never come back
        client.post(f"{PROJECT_PATH}/pipelines", json={"name": "Nightly"})
    text = state_file.read_text(encoding="utf-8")
    assert "p@ss-plain" not in text and "v-plain" not in text and "seed-plaintext-password" not in text
    assert seed.read_text(encoding="utf-8") == seed_text  # the seed is never written
    assert [p.name for p in tmp_path.joinpath("state").iterdir()] == ["sandbox.json"]  # no temp files left

    reloaded, fresh = load_state(seed, state_file)
    assert not fresh
    assert reloaded.to_data() == state.to_data()
    with wsgi_client(SandboxApp(reloaded)) as client:
        again = client.post(ACTIONS, json=NEW).json()["id"]
    assert again > new_id + 1  # the pipeline "Nightly" took new_id + 1


def test_reset_reseeds_and_seed_must_differ_from_state(tmp_path: Path, sandbox_seed: dict[str, Any]) -> None:
    seed = write_json(tmp_path / "seed.json", sandbox_seed)
    state_file = tmp_path / "state.json"
    state, _ = load_state(seed, state_file)
    state.ensure_pipeline("acme", "web", "Extra")
    assert len(load_state(seed, state_file)[0].project("acme", "web").pipelines) == 3  # type: ignore[union-attr]
    reset, fresh = load_state(seed, state_file, reset=True)
    assert fresh and len(reset.project("acme", "web").pipelines) == 2  # type: ignore[union-attr]
    with pytest.raises(SandboxError, match="must differ"):
        load_state(seed, seed, reset=True)


def test_a_failed_write_leaves_the_old_file_intact(
    tmp_path: Path, sandbox_seed: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    state_file = tmp_path / "state.json"
    state = SandboxState.from_data(sandbox_seed, state_file=state_file)
    state.save()
    before = state_file.read_text(encoding="utf-8")

    def broken_replace(src: Any, dst: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        state.ensure_pipeline("acme", "web", "Another")
    assert state_file.read_text(encoding="utf-8") == before
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_a_workspace_with_the_api_disabled_is_seeded_and_persisted(
    tmp_path: Path, sandbox_seed: dict[str, Any]
) -> None:
    sandbox_seed["workspaces"]["acme"]["api_disabled"] = True
    state = SandboxState.from_data(sandbox_seed, state_file=tmp_path / "state.json")
    assert state.to_data()["workspaces"]["acme"]["api_disabled"] is True
    app = SandboxApp(state)
    with wsgi_client(app) as client:
        assert client.get(ACTIONS).status_code == 403
        app.set_api_disabled("acme", disabled=False)
        assert client.get(ACTIONS).status_code == 200
    saved = json.loads((tmp_path / "state.json").read_text(encoding="utf-8"))
    assert "api_disabled" not in saved["workspaces"]["acme"]  # only a disabled API is written down
    with pytest.raises(SandboxError, match="api_disabled"):
        SandboxState.from_data({"workspaces": {"acme": {"api_disabled": "yes"}}})


def test_ensure_helpers_are_idempotent() -> None:
    state = SandboxState()
    first = state.ensure_pipeline("acme", "web", "Release images")
    assert state.ensure_pipeline("acme", "web", "Release images") is first
    assert first.fields["identifier"] == "release-images" and first.actions == []
    project = state.ensure_project("acme", "api")
    assert state.ensure_project("acme", "api") is project and project.pipelines == []
    with pytest.raises(SandboxError):
        state.ensure_pipeline("acme", "web", "Bad", priority="URGENT")


# -- entry points ----------------------------------------------------------------------------------


def test_start_in_process_seeds_named_pipelines(tmp_path: Path) -> None:
    server, url, token = start_in_process(
        state_file=tmp_path / ".reconcile-sandbox.json", pipelines=[("acme", "web", "Release images")]
    )
    try:
        assert token == DEFAULT_TOKEN and url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, verify=tls_context()) as client:
            pipelines = client.get(f"{PROJECT_PATH}/pipelines").json()["pipelines"]
            assert [p["name"] for p in pipelines] == ["Release images"]
    finally:
        server.stop()
    # second use: the state file wins, the names are not added again
    server, url, _ = start_in_process(
        state_file=tmp_path / ".reconcile-sandbox.json", pipelines=[("acme", "web", "Other")]
    )
    try:
        names = [p.name for _, _, p in server.app.state.iter_pipelines()]  # type: ignore[attr-defined]
        assert names == ["Release images"]
    finally:
        server.stop()


def test_build_app_from_options(tmp_path: Path, sandbox_seed: dict[str, Any]) -> None:
    options = SandboxOptions(
        seed=write_json(tmp_path / "seed.json", sandbox_seed),
        token="t-123",
        faults=["error:count=1,status=503"],
        fault_seed=7,
        switches={"insert_first": True},
    )
    app = build_app(options)
    assert app.switches.insert_first
    with httpx.Client(
        transport=httpx.WSGITransport(app=app),
        base_url="http://sandbox",
        headers={"Authorization": "Bearer t-123"},
        verify=tls_context(),
    ) as client:
        assert [client.get(ACTIONS).status_code for _ in range(2)] == [503, 200]
    with pytest.raises(SandboxError, match="fault"):
        build_app(SandboxOptions(faults=["nonsense"]))
    with pytest.raises(SandboxError, match="switch"):
        build_app(SandboxOptions(switches={"nope": True}))
    with pytest.raises(SandboxError, match="token"):
        build_app(SandboxOptions(token=""))


def test_run_forever_serves_until_stopped(tmp_path: Path, sandbox_seed: dict[str, Any]) -> None:
    stop = threading.Event()
    urls: list[str] = []
    ready = threading.Event()

    def on_ready(url: str) -> None:
        urls.append(url)
        ready.set()

    options = SandboxOptions(port=0, seed=write_json(tmp_path / "seed.json", sandbox_seed))
    thread = threading.Thread(target=run_forever, args=(options,), kwargs={"ready": on_ready, "stop": stop})
    thread.start()
    try:
        assert ready.wait(5)
        headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
        with httpx.Client(base_url=urls[0], headers=headers, verify=tls_context()) as client:
            assert client.get(ACTIONS).status_code == 200
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()


def test_server_refuses_non_loopback_addresses() -> None:
    for host in ("0.0.0.0", "192.168.1.10", "example.com", "::"):
        with pytest.raises(SandboxError, match="loopback"):
            SandboxServer(SandboxApp(), host=host)


@pytest.mark.parametrize("port", [99999, -5, 65536])
def test_a_port_outside_0_to_65535_is_a_usage_error(port: int) -> None:
    from reconciler.errors import UsageError
    from reconciler.sandbox import SandboxOptions, check_port, run_forever

    with pytest.raises(UsageError, match="0 to 65535"):
        check_port(port)
    with pytest.raises(UsageError):
        run_forever(SandboxOptions(port=port))


def test_reconcile_sandbox_with_a_bad_port_exits_with_a_message_not_a_traceback() -> None:
    import io

    from reconciler.cli.main import main

    err = io.StringIO()
    code = main(["sandbox", "--port", "99999"], out=io.StringIO(), err=err)
    assert code != 0 and "65535" in err.getvalue() and "Traceback" not in err.getvalue()


@pytest.mark.parametrize("kind", ["fifo", "dev_zero", "deep", "not_utf8"])
def test_a_hostile_state_file_is_a_sandbox_error_without_blocking_or_filling_memory(tmp_path: Path, kind: str):
    path = tmp_path / "state.json"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev_zero":
        path = Path("/dev/zero")
    elif kind == "deep":
        path.write_text("[" * 100_000 + "]" * 100_000)
    else:
        path.write_bytes(b'{"workspaces": "\xff"}')
    with pytest.raises(SandboxError, match=str(path)):
        SandboxState.from_file(path)
