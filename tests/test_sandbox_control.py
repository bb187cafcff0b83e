"""The control API under /__sandbox: faults, stats, state, reset, switches, tokens; loopback only."""

from __future__ import annotations

import httpx
import pytest
from conftest import PROJECT_PATH, SandboxHandle, tls_context

from reconciler.sandbox import DEFAULT_TOKEN, SandboxApp

ACTIONS = f"{PROJECT_PATH}/pipelines/7/actions"
NEW = {"name": "Build worker image", "type": "DOCKER_BUILD_MULTI_ARCH"}


def control(handle: SandboxHandle) -> httpx.Client:
    """A client for the control API: no token on purpose, it needs none."""
    return httpx.Client(base_url=handle.url, verify=tls_context(), timeout=10.0)


def action_ids(app: SandboxApp) -> list[int]:
    pipeline = app.state.pipeline("acme", "web", 7)
    assert pipeline is not None
    return [a.id for a in pipeline.actions]


def _statuses(client: httpx.Client, n: int) -> list[int]:
    return [client.get(ACTIONS).status_code for _ in range(n)]


def test_control_endpoint_sets_lists_and_clears_faults(
    sandbox_server: SandboxHandle, sandbox_http: httpx.Client
) -> None:
    with control(sandbox_server) as ctl:
        body = {"seed": 5, "rules": [{"kind": "error", "methods": ["GET"], "count": 2, "status": 503}]}
        assert ctl.post("/__sandbox/faults", json=body).status_code == 200
        assert _statuses(sandbox_http, 3) == [503, 503, 200]
        listed = ctl.get("/__sandbox/faults").json()
        assert listed["seed"] == 5 and listed["rules"][0]["count"] == 0 and listed["rules"][0]["fired"] == 2
        ctl.post("/__sandbox/faults", json={"error_rate": 1.0, "error_status": 500})
        assert sandbox_http.get(ACTIONS).status_code == 500
        assert ctl.delete("/__sandbox/faults").json()["rules"] == []
        assert sandbox_http.get(ACTIONS).status_code == 200
        bad = ctl.post("/__sandbox/faults", json={"rules": [{"kind": "meteor"}]})
        assert bad.status_code == 400 and "meteor" in bad.json()["errors"][0]["message"]


def test_control_stats_count_by_method_and_route(sandbox_server: SandboxHandle, sandbox_http: httpx.Client) -> None:
    with control(sandbox_server) as ctl:
        sandbox_http.get(ACTIONS)
        sandbox_http.get(ACTIONS)
        sandbox_http.post(ACTIONS, json=NEW)
        sandbox_http.get(f"{ACTIONS}/41")
        stats = ctl.get("/__sandbox/stats").json()
        assert stats["total"] == 4
        assert stats["by_method"] == {"GET": 3, "POST": 1}
        assert stats["by_route"] == {
            "GET /pipelines/:pipeline_id/actions": 2,
            "POST /pipelines/:pipeline_id/actions": 1,
            "GET /pipelines/:pipeline_id/actions/:action_id": 1,
        }
        assert stats["by_status"] == {"200": 3, "201": 1}
        log = ctl.get("/__sandbox/stats", params={"log": 1}).json()["log"]
        assert [entry["method"] for entry in log] == ["GET", "GET", "POST", "GET"]
        assert ctl.get("/__sandbox/stats").json()["total"] == 4  # control calls are not counted
        assert ctl.post("/__sandbox/stats/reset").json()["total"] == 0
        assert sandbox_server.app.stats()["total"] == 0


def test_control_state_reset_switches_tokens(sandbox_server: SandboxHandle, sandbox_http: httpx.Client) -> None:
    with control(sandbox_server) as ctl:
        sandbox_http.delete(f"{ACTIONS}/40")
        state = ctl.get("/__sandbox/state").json()
        assert [a["id"] for a in state["workspaces"]["acme"]["projects"]["web"]["pipelines"][0]["actions"]] == [41]
        ctl.post("/__sandbox/faults", json={"rules": [{"kind": "error"}]})
        assert ctl.post("/__sandbox/reset", params={"seed": 3}).status_code == 200
        assert sandbox_http.get(ACTIONS).status_code == 200  # faults cleared
        assert action_ids(sandbox_server.app) == [40, 41]  # back to the seed
        other = {"workspaces": {"beta": {"projects": {"api": {"pipelines": [{"name": "Only"}]}}}}}
        assert ctl.post("/__sandbox/reset", json={"state": other}).status_code == 200
        assert sandbox_http.get(ACTIONS).status_code == 404
        assert ctl.post("/__sandbox/reset", json={"state": {"oops": 1}}).status_code == 400

        assert ctl.post("/__sandbox/switches", json={"insert_first": True}).json()["insert_first"] is True
        assert ctl.post("/__sandbox/switches", json={"teleport": True}).status_code == 400
        assert ctl.post("/__sandbox/switches", json={"insert_first": "yes"}).status_code == 400

        added = ctl.post("/__sandbox/tokens", json={"token": "reader-1", "scopes": ["WORKSPACE", "EXECUTION_INFO"]})
        assert added.status_code == 200 and "reader-1" not in added.text
        with sandbox_server.client(token="reader-1") as reader:
            assert reader.get("/workspaces/beta/projects/api/pipelines").status_code == 200
            assert reader.post("/workspaces/beta/projects/api/pipelines", json={"name": "x"}).status_code == 403

        assert ctl.post("/__sandbox/rate-limit", json={"limit": 1, "window_s": 30}).json()["limit"] == 1
        assert ctl.get("/__sandbox/health").json() == {"ok": True}
        assert ctl.get("/__sandbox/nothing").status_code == 404


def test_control_api_turns_a_workspace_api_off_and_on(
    sandbox_server: SandboxHandle, sandbox_http: httpx.Client
) -> None:
    with control(sandbox_server) as ctl:
        assert ctl.post("/__sandbox/api-disabled", json={"workspace": "acme"}).json() == {"acme": True}
        assert sandbox_http.get(ACTIONS).status_code == 403
        off = ctl.post("/__sandbox/api-disabled", json={"workspace": "acme", "disabled": False})
        assert off.json() == {"acme": False}
        assert sandbox_http.get(ACTIONS).status_code == 200
        assert ctl.post("/__sandbox/api-disabled", json={"workspace": "nope"}).status_code == 400
        assert ctl.post("/__sandbox/api-disabled", json={"workspace": "acme", "disabled": "no"}).status_code == 400


@pytest.mark.parametrize("remote", ["10.1.2.3", "192.168.0.7", "2001:db8::1", ""])
def test_control_api_is_loopback_only(sandbox_app: SandboxApp, remote: str) -> None:
    transport = httpx.WSGITransport(app=sandbox_app, remote_addr=remote)
    headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    with httpx.Client(transport=transport, base_url="http://sandbox", headers=headers, verify=tls_context()) as c:
        for method, path in [("GET", "/__sandbox/stats"), ("POST", "/__sandbox/reset"), ("GET", "/__sandbox/state")]:
            assert c.request(method, path).status_code == 403
        assert c.post("/__sandbox/faults", json={"rules": [{"kind": "error"}]}).status_code == 403
        assert c.get(ACTIONS).status_code == 200  # the Buddy API itself does not care
