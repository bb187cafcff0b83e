"""The rate budget: headers on every answer, 429 when spent, configurable, counted in the stats."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from conftest import PROJECT_PATH, SandboxHandle, tls_context

from reconciler.sandbox import DEFAULT_TOKEN, SandboxApp

ACTIONS = f"{PROJECT_PATH}/pipelines/7/actions"


def test_rate_limit_headers_on_every_response(sandbox_server: SandboxHandle, sandbox_http: httpx.Client) -> None:
    with httpx.Client(base_url=sandbox_server.url, verify=tls_context()) as anonymous:
        responses = [
            sandbox_http.get(ACTIONS),
            sandbox_http.get(f"{ACTIONS}/999"),
            sandbox_http.post(ACTIONS, json={"bad": 1}),
            sandbox_http.delete(f"{ACTIONS}/40"),
            anonymous.get(ACTIONS),
        ]
    for response in responses:
        for header in ("X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset"):
            assert response.headers[header].isdigit(), (response.status_code, header)
    remaining = [int(r.headers["X-Rate-Limit-Remaining"]) for r in responses]
    assert remaining == sorted(remaining, reverse=True) and len(set(remaining)) == 5


def test_spent_budget_answers_429_until_the_window_resets(sandbox_app: SandboxApp) -> None:
    now = [1_000_000.0]
    app = SandboxApp(sandbox_app.state, rate_limit=3, rate_window_s=60, clock=lambda: now[0])
    headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    transport = httpx.WSGITransport(app=app)
    with httpx.Client(transport=transport, base_url="http://sandbox", headers=headers, verify=tls_context()) as c:
        ok = [c.get(ACTIONS) for _ in range(3)]
        assert [r.headers["X-Rate-Limit-Remaining"] for r in ok] == ["2", "1", "0"]
        assert all(r.headers["X-Rate-Limit-Limit"] == "3" for r in ok)
        assert ok[0].headers["X-Rate-Limit-Reset"] == str(1_000_060)
        now[0] += 20
        limited = c.get(ACTIONS)
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "40"
        assert "errors" in limited.json()
        now[0] += 41
        assert c.get(ACTIONS).status_code == 200


def test_rate_limit_over_real_http(sandbox_server: SandboxHandle, sandbox_http: httpx.Client) -> None:
    sandbox_server.app.set_rate_limit(2, window_s=30)
    assert [sandbox_http.get(ACTIONS).status_code for _ in range(3)] == [200, 200, 429]
    assert 1 <= int(sandbox_http.get(ACTIONS).headers["Retry-After"]) <= 30


def test_a_budget_from_the_options_paces_every_answer_and_the_stats_count_429s(tmp_path: Any) -> None:
    from reconciler.sandbox import SandboxOptions, SandboxServer, build_app

    app = build_app(SandboxOptions(seed=None, rate_limit=300, rate_window_s=5))
    with (
        SandboxServer(app, poll_interval=0.005) as server,
        httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}) as client,
    ):
        client.post("/__sandbox/reset", json={"state": {"workspaces": {"acme": {"projects": {"web": {}}}}}})
        answers = [client.get(f"{PROJECT_PATH}/pipelines") for _ in range(302)]
    statuses = [r.status_code for r in answers]
    assert statuses.count(200) == 300 and statuses[-2:] == [429, 429]
    assert [r.headers["X-Rate-Limit-Remaining"] for r in answers[:3]] == ["299", "298", "297"]
    assert {r.headers["X-Rate-Limit-Limit"] for r in answers} == {"300"}
    resets = {int(r.headers["X-Rate-Limit-Reset"]) for r in answers}
    assert len(resets) == 1 and time.time() - 1 <= resets.pop() <= time.time() + 6
    assert answers[-1].headers["X-Rate-Limit-Remaining"] == "0" and "Retry-After" in answers[-1].headers
    stats = app.stats()
    assert stats["total"] == 302 and stats["rate_limited"] == 2 and stats["by_status"]["429"] == 2


def test_injected_429s_count_as_rate_limited_too(sandbox_server: SandboxHandle, sandbox_http: httpx.Client) -> None:
    sandbox_server.app.set_faults({"kind": "rate_limit", "count": 3, "retry_after": 0})
    assert [sandbox_http.get(ACTIONS).status_code for _ in range(4)] == [429, 429, 429, 200]
    assert sandbox_server.app.stats()["rate_limited"] == 3


@pytest.mark.parametrize(("limit", "window_s"), [(0, 5.0), (10, 0.0), (10, float("nan")), (True, 5.0)])
def test_an_unusable_budget_is_refused(limit: Any, window_s: float) -> None:
    from reconciler.errors import SandboxError
    from reconciler.sandbox import SandboxOptions, build_app

    with pytest.raises(SandboxError):
        build_app(SandboxOptions(rate_limit=limit, rate_window_s=window_s))
