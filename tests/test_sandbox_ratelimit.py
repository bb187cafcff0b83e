"""The rate budget: headers on every answer, 429 when spent, configurable, counted in the stats."""

from __future__ import annotations

import httpx
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
