"""Injected faults, rate limits and the control API of the sandbox, over real HTTP and in process."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest
from conftest import PROJECT_PATH, SandboxHandle, tls_context

from reconciler.sandbox import (
    DEFAULT_TOKEN,
    ConnectionDropped,
    FaultConfigError,
    FaultRule,
    SandboxApp,
    SandboxState,
    parse_fault_spec,
)

ACTIONS = f"{PROJECT_PATH}/pipelines/7/actions"
NEW = {"name": "Build worker image", "type": "DOCKER_BUILD_MULTI_ARCH"}


def action_ids(app: SandboxApp) -> list[int]:
    pipeline = app.state.pipeline("acme", "web", 7)
    assert pipeline is not None
    return [a.id for a in pipeline.actions]


# -- latency ---------------------------------------------------------------------------------------


def test_latency_delays_each_request_without_blocking_the_others(
    sandbox_server: SandboxHandle, sandbox_http: httpx.Client
) -> None:
    sandbox_server.app.set_faults(latency_ms=200)
    took: list[float] = []

    def one() -> None:
        with sandbox_server.client() as client:
            t0 = time.perf_counter()
            assert client.get(ACTIONS).status_code == 200
            took.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=one) for _ in range(5)]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    elapsed = time.perf_counter() - t0
    assert len(took) == 5 and min(took) >= 0.2
    assert elapsed < 0.6  # in series they would need 1 s


def test_latency_jitter_is_deterministic_under_a_seed(sandbox_app: SandboxApp) -> None:
    delays: list[float] = []
    app = SandboxApp(sandbox_app.state, sleep=delays.append)
    transport = httpx.WSGITransport(app=app)
    headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    with httpx.Client(transport=transport, base_url="http://sandbox", headers=headers, verify=tls_context()) as c:
        app.set_faults(FaultRule("latency", ms=5, jitter_ms=50, methods=frozenset({"GET"})), seed=11)
        for _ in range(5):
            c.get(ACTIONS)
        first = list(delays)
        delays.clear()
        app.set_faults(FaultRule("latency", ms=5, jitter_ms=50, methods=frozenset({"GET"})), seed=11)
        for _ in range(5):
            c.get(ACTIONS)
    assert delays == first
    assert all(0.005 <= d <= 0.055 for d in first) and len(set(first)) == 5


# -- 5xx -------------------------------------------------------------------------------------------


def _statuses(client: httpx.Client, n: int) -> list[int]:
    return [client.get(ACTIONS).status_code for _ in range(n)]


def test_error_rate_is_seeded_and_reproducible(sandbox_server: SandboxHandle, sandbox_http: httpx.Client) -> None:
    app = sandbox_server.app
    app.set_faults(FaultRule("error", rate=0.3, status=503), seed=42)
    first = _statuses(sandbox_http, 60)
    app.set_faults(FaultRule("error", rate=0.3, status=503), seed=42)
    assert _statuses(sandbox_http, 60) == first
    assert set(first) == {200, 503}
    assert 5 <= first.count(503) <= 35
    assert app.stats()["faults"]["error"] == 2 * first.count(503)


def test_an_injected_error_does_nothing(sandbox_server: SandboxHandle, sandbox_http: httpx.Client) -> None:
    sandbox_server.app.set_faults(FaultRule("error", methods=frozenset({"POST"}), count=2, status=502))
    assert sandbox_http.get(ACTIONS).status_code == 200  # scoped to POST
    for _ in range(2):
        response = sandbox_http.post(ACTIONS, json=NEW)
        assert response.status_code == 502 and response.json()["errors"][0]["message"]
    assert action_ids(sandbox_server.app) == [40, 41]
    assert sandbox_http.post(ACTIONS, json=NEW).status_code == 201  # the count is spent


def test_faults_can_be_scoped_by_route(sandbox_server: SandboxHandle, sandbox_http: httpx.Client) -> None:
    sandbox_server.app.set_faults({"kind": "error", "route": "/pipelines/:pipeline_id/actions/:action_id"})
    assert sandbox_http.get(ACTIONS).status_code == 200
    assert sandbox_http.get(f"{ACTIONS}/41").status_code == 500


# -- 429 -------------------------------------------------------------------------------------------


def test_rate_limit_storm_answers_429_for_the_next_n(sandbox_server: SandboxHandle, sandbox_http: httpx.Client) -> None:
    sandbox_server.app.set_faults(FaultRule("rate_limit", count=3, retry_after=2))
    now = time.time()
    for _ in range(3):
        response = sandbox_http.post(ACTIONS, json=NEW)
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "2"
        assert response.headers["X-Rate-Limit-Remaining"] == "0"
        assert now + 1 <= int(response.headers["X-Rate-Limit-Reset"]) <= now + 4
    assert action_ids(sandbox_server.app) == [40, 41]
    assert sandbox_http.get(ACTIONS).status_code == 200


# -- dropped connections ---------------------------------------------------------------------------


def test_drop_closes_the_connection_without_an_answer(
    sandbox_server: SandboxHandle, sandbox_http: httpx.Client
) -> None:
    sandbox_server.app.set_faults(FaultRule("drop", methods=frozenset({"GET"}), count=1))
    with pytest.raises(httpx.RemoteProtocolError):
        sandbox_http.get(ACTIONS)
    assert sandbox_http.get(ACTIONS).status_code == 200  # a new connection works
    stats = sandbox_server.app.stats()
    assert stats["by_status"]["dropped"] == 1 and stats["faults"]["drop"] == 1


def test_drop_in_process_raises_connection_dropped_out_of_the_transport(
    sandbox_app: SandboxApp, sandbox_wsgi: httpx.Client
) -> None:
    sandbox_app.set_faults(FaultRule("drop", count=1))
    with pytest.raises(ConnectionDropped):
        sandbox_wsgi.post(ACTIONS, json=NEW)
    assert action_ids(sandbox_app) == [40, 41]  # nothing happened


def test_the_sandbox_does_not_import_httpx() -> None:
    import ast
    from pathlib import Path

    import reconciler.sandbox

    for source in Path(reconciler.sandbox.__file__).parent.glob("*.py"):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {str(n.module) for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not {m for m in imported if m.split(".")[0] == "httpx"}, source.name


# -- commit, then fail -----------------------------------------------------------------------------


def test_commit_then_error_applies_the_write(sandbox_server: SandboxHandle, sandbox_http: httpx.Client) -> None:
    sandbox_server.app.set_faults(FaultRule("commit_then_error", methods=frozenset({"POST"}), count=1))
    assert sandbox_http.get(ACTIONS).status_code == 200  # reads never trigger it
    refused = sandbox_http.post(ACTIONS, json={"name": "x", "type": "DOCKER_BUILD_MULTI_ARCH", "pull": 1})
    assert refused.status_code == 400  # a refused write does not spend the count
    response = sandbox_http.post(ACTIONS, json=NEW)
    assert response.status_code == 500
    ids = action_ids(sandbox_server.app)
    assert len(ids) == 3 and ids[:2] == [40, 41]  # it was created anyway
    assert sandbox_http.post(ACTIONS, json=NEW).status_code == 201


def test_commit_then_drop_applies_the_delete(sandbox_server: SandboxHandle, sandbox_http: httpx.Client) -> None:
    sandbox_server.app.set_faults(FaultRule("commit_then_drop", methods=frozenset({"DELETE"}), count=1))
    with pytest.raises(httpx.TransportError):
        sandbox_http.delete(f"{ACTIONS}/40")
    assert action_ids(sandbox_server.app) == [41]
    assert sandbox_http.delete(f"{ACTIONS}/40").status_code == 404  # a retry learns it is gone


def test_commit_then_error_on_patch(sandbox_server: SandboxHandle, sandbox_http: httpx.Client) -> None:
    sandbox_server.app.set_faults({"kind": "commit_then_error", "methods": ["PATCH"], "status": 504, "count": 1})
    assert sandbox_http.patch(f"{ACTIONS}/41", json={"cache_mode": "MAX"}).status_code == 504
    assert sandbox_http.get(f"{ACTIONS}/41").json()["cache_mode"] == "MAX"


# -- fault descriptions ----------------------------------------------------------------------------


def test_fault_specs_parse_short_and_json_forms() -> None:
    rule = parse_fault_spec("error:status=503,rate=0.25,methods=post+PATCH,count=2")
    assert (rule.kind, rule.status, rule.rate, rule.methods, rule.count) == (
        "error",
        503,
        0.25,
        frozenset({"POST", "PATCH"}),
        2,
    )
    assert parse_fault_spec('{"kind": "rate_limit", "count": 5, "retry_after": 3}').retry_after == 3
    assert parse_fault_spec("drop").methods is None
    latency = parse_fault_spec("latency:ms=100,jitter_ms=20")
    assert (latency.ms, latency.jitter_ms) == (100, 20)


@pytest.mark.parametrize(
    "spec",
    ["explode", "error:rate=2", "error:status=404", "error:nonsense", "error:colour=red", "{bad json", "latency:ms=-1"],
)
def test_bad_fault_specs_are_refused(spec: str) -> None:
    with pytest.raises(FaultConfigError):
        parse_fault_spec(spec)


def test_python_control_surface(sandbox_app: SandboxApp, sandbox_wsgi: httpx.Client) -> None:
    sandbox_app.set_faults({"kind": "error", "count": 1}, latency_ms=0)
    sandbox_app.set_faults({"kind": "rate_limit", "count": 1}, append=True)
    assert [sandbox_wsgi.get(ACTIONS).status_code for _ in range(3)] == [500, 429, 200]
    sandbox_app.clear_faults()
    assert sandbox_app.faults.to_dict()["rules"] == []
    sandbox_app.reset()
    assert sandbox_app.stats()["total"] == 0


def test_faults_from_an_app_built_with_rules() -> None:
    from reconciler.sandbox import Faults

    app = SandboxApp(SandboxState(), faults=Faults([FaultRule("error", count=1)], seed=1))
    statuses: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        statuses.append(status)

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/workspaces/a/projects/b/pipelines", "wsgi.input": None}
    app(environ, start_response)
    app(environ, start_response)
    assert statuses == ["500 Internal Server Error", "401 Unauthorized"]


# -- late commits ----------------------------------------------------------------------------------


def test_late_commit_lands_the_create_after_the_client_timed_out(sandbox_server: SandboxHandle) -> None:
    sandbox_server.app.set_late_commit(800, methods=["POST"], count=1)
    with sandbox_server.client() as impatient:
        with pytest.raises(httpx.TimeoutException):
            impatient.post(ACTIONS, json=NEW, timeout=0.1)
        assert action_ids(sandbox_server.app) == [40, 41]  # not yet: the write is held
    deadline = time.monotonic() + 5
    while len(action_ids(sandbox_server.app)) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    pipeline = sandbox_server.app.state.pipeline("acme", "web", 7)
    assert pipeline is not None and [a.name for a in pipeline.actions][-1] == NEW["name"]
    assert sandbox_server.app.stats()["faults"] == {"late_commit": 1}


def test_late_commit_holds_patch_and_delete_too_and_leaves_reads_alone(
    sandbox_server: SandboxHandle, sandbox_http: httpx.Client
) -> None:
    delays: list[float] = []
    app = SandboxApp(sandbox_server.app.state, sleep=delays.append)
    app.set_late_commit(1500)
    headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    with httpx.Client(
        transport=httpx.WSGITransport(app=app), base_url="http://sandbox", headers=headers, verify=tls_context()
    ) as c:
        assert c.get(ACTIONS).status_code == 200
        assert delays == []
        assert c.patch(f"{ACTIONS}/41", json={"cache_mode": "MAX"}).status_code == 200
        assert c.delete(f"{ACTIONS}/40").status_code == 204
    assert delays == [1.5, 1.5]
    assert action_ids(app) == [41]


@pytest.mark.parametrize(
    "spec", ["late_commit", "late_commit:ms=0", "deviant", "deviant:mode=teleport", "error:mode=x"]
)
def test_late_commit_and_deviant_specs_need_their_parameters(spec: str) -> None:
    with pytest.raises(FaultConfigError):
        parse_fault_spec(spec)


def test_late_commit_and_deviant_specs_parse() -> None:
    late = parse_fault_spec("late_commit:ms=2000,count=1,methods=POST")
    assert (late.kind, late.ms, late.count, late.methods) == ("late_commit", 2000.0, 1, frozenset({"POST"}))
    odd = parse_fault_spec("deviant:mode=html_body,route=/pipelines")
    assert (odd.kind, odd.mode, odd.route) == ("deviant", "html_body", "/pipelines")
    assert odd.to_dict()["mode"] == "html_body"


# -- shift: the list moves between two page reads ------------------------------------------------------


def test_a_shift_waits_for_a_page_after_the_first_then_inserts_an_action_in_front(
    sandbox_app: SandboxApp, sandbox_wsgi: httpx.Client
) -> None:
    sandbox_app.set_shift("insert", route="/pipelines/:pipeline_id/actions", count=1)
    first = sandbox_wsgi.get(ACTIONS, params={"page": 1, "per_page": 1}).json()["actions"]
    assert action_ids(sandbox_app) == [40, 41] and sandbox_app.faults.rules[0].count == 1  # page 1: not spent
    second = sandbox_wsgi.get(ACTIONS, params={"page": 2, "per_page": 1}).json()["actions"]
    assert [first[0]["id"], second[0]["id"]] == [40, 40]  # pushed one place on: seen twice
    new = action_ids(sandbox_app)[0]
    assert action_ids(sandbox_app) == [new, 40, 41]
    assert sandbox_app.state.pipeline("acme", "web", 7).actions[0].name == f"inserted {new}"  # type: ignore[union-attr]
    assert sandbox_app.stats(with_log=True)["log"][-1]["fault"] == "shift:insert"
    sandbox_wsgi.get(ACTIONS, params={"page": 2, "per_page": 1})
    assert len(action_ids(sandbox_app)) == 3  # count 1: spent


def test_a_shift_removes_the_first_item_as_the_request_would_serve_it(
    sandbox_app: SandboxApp, sandbox_wsgi: httpx.Client
) -> None:
    sandbox_app.set_shift("remove", route="/pipelines/:pipeline_id/actions", count=1)
    second = sandbox_wsgi.get(ACTIONS, params={"page": 2, "per_page": 1}).json()["actions"]
    assert second == [] and action_ids(sandbox_app) == [41]  # #41 slid onto page 1: never seen
    pipelines = f"{PROJECT_PATH}/pipelines"
    before = [p["id"] for p in sandbox_wsgi.get(pipelines).json()["pipelines"]]
    sandbox_app.set_shift("remove", route="/pipelines", count=1)
    sandbox_wsgi.get(pipelines, params={"page": 2, "per_page": 1, "sort_by": "id", "sort_direction": "DESC"})
    after = [p["id"] for p in sandbox_wsgi.get(pipelines).json()["pipelines"]]
    assert after == [i for i in before if i != max(before)]  # the first of that sort order


def test_shift_specs_need_a_mode_of_insert_or_remove() -> None:
    rule = parse_fault_spec("shift:mode=remove,route=/pipelines,count=2")
    assert (rule.kind, rule.mode, rule.route, rule.count) == ("shift", "remove", "/pipelines", 2)
    assert rule.to_dict()["mode"] == "remove"
    for bad in ("shift", "shift:mode=reverse"):
        with pytest.raises(FaultConfigError, match="shift needs a mode"):
            parse_fault_spec(bad)
