"""The sandbox server: HTTP/1.1 keep-alive on loopback, concurrency, clean shutdown; and the app in process."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import httpx
import pytest
from conftest import PROJECT_PATH, SandboxHandle, tls_context

from reconciler.sandbox import DEFAULT_TOKEN, SandboxApp, SandboxServer

ACTIONS = f"{PROJECT_PATH}/pipelines/7/actions"
NEW = {"name": "Build worker image", "type": "DOCKER_BUILD_MULTI_ARCH"}


def test_keep_alive_reuses_one_connection_without_delayed_ack_stalls(
    sandbox_server: SandboxHandle, sandbox_http: httpx.Client
) -> None:
    t0 = time.perf_counter()
    for i in range(60):
        response = sandbox_http.get(ACTIONS) if i % 2 else sandbox_http.patch(f"{ACTIONS}/41", json={"timeout": i})
        assert response.status_code == 200
        assert response.headers["Content-Length"] == str(len(response.content))
    elapsed = time.perf_counter() - t0
    assert sandbox_server.server.connections_accepted == 1
    assert elapsed < 1.2  # a 40 ms delayed-ACK stall per request would need 2.4 s


def test_204_has_content_length_zero(sandbox_http: httpx.Client) -> None:
    response = sandbox_http.delete(f"{ACTIONS}/40")
    assert response.status_code == 204 and response.headers["Content-Length"] == "0"
    assert sandbox_http.get(ACTIONS).status_code == 200  # the connection is still usable


def test_chunked_request_bodies_are_read(sandbox_http: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": "Chunked", '
        yield b'"type": "DOCKER_BUILD_MULTI_ARCH"}'

    response = sandbox_http.post(ACTIONS, content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 201 and response.json()["name"] == "Chunked"


def test_connection_close_is_honoured(sandbox_server: SandboxHandle, sandbox_http: httpx.Client) -> None:
    response = sandbox_http.get(ACTIONS, headers={"Connection": "close"})
    assert response.status_code == 200 and response.headers["Connection"] == "close"
    assert sandbox_http.get(ACTIONS).status_code == 200
    assert sandbox_server.server.connections_accepted == 2


def test_concurrent_creates_get_unique_ids_and_none_is_lost(sandbox_server: SandboxHandle) -> None:
    threads_n, per_thread = 8, 25
    created: list[int] = []
    lock = threading.Lock()
    failures: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            with sandbox_server.client() as client:
                for i in range(per_thread):
                    response = client.post(ACTIONS, json={**NEW, "name": f"t{n}-{i}"})
                    assert response.status_code == 201, response.text
                    with lock:
                        created.append(response.json()["id"])
        except BaseException as exc:  # reported in the main thread
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert not failures
    assert len(created) == len(set(created)) == threads_n * per_thread
    with sandbox_server.client() as client:
        listed: list[int] = []
        for page in range(1, 10):
            batch = client.get(ACTIONS, params={"page": page, "per_page": 100}).json()["actions"]
            if not batch:
                break
            listed.extend(a["id"] for a in batch)
    assert listed[:2] == [40, 41]
    assert sorted(listed[2:]) == sorted(created)
    assert sandbox_server.app.state.next_id == max(created) + 1


def test_stop_closes_idle_keep_alive_connections_and_frees_the_port(sandbox_app: SandboxApp) -> None:
    server = SandboxServer(sandbox_app, poll_interval=0.005).start()
    port = server.port
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}, verify=tls_context()
    ) as client:
        assert client.get(ACTIONS).status_code == 200
        server.stop()
        with pytest.raises(httpx.TransportError):
            client.get(ACTIONS)
    again = SandboxServer(sandbox_app, port=port, poll_interval=0.005)
    with again:
        assert again.port == port
    server.stop()  # stopping twice is harmless


def test_url_needs_a_running_server(sandbox_app: SandboxApp) -> None:
    from reconciler.errors import SandboxError

    with pytest.raises(SandboxError):
        _ = SandboxServer(sandbox_app).url


def test_ipv6_loopback(sandbox_app: SandboxApp) -> None:
    try:
        probe = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with (
        SandboxServer(sandbox_app, host="::1", poll_interval=0.005) as server,
        httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}, verify=tls_context()
        ) as client,
    ):
        assert server.url.startswith("http://[::1]:")
        assert client.get(ACTIONS).status_code == 200


def test_an_app_crash_is_a_500_and_the_server_goes_on() -> None:
    calls: list[int] = []

    def flaky(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"fine"]

    with (
        SandboxServer(flaky, poll_interval=0.005) as server,
        httpx.Client(base_url=server.url, verify=tls_context()) as client,
    ):
        crashed = client.get("/")
        assert crashed.status_code == 500 and "errors" in crashed.json()
        assert client.get("/").text == "fine"


def test_a_sandbox_crash_is_a_500_with_the_rate_limit_headers(
    sandbox_server: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(_request: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(sandbox_server.app.api, "dispatch", crash)
    with sandbox_server.client() as client:
        crashed = client.get(ACTIONS)
    assert crashed.status_code == 500 and crashed.json() == {"errors": [{"message": "Internal sandbox error"}]}
    assert all(h in crashed.headers for h in ("X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset"))


def test_the_network_guard_refuses_non_loopback() -> None:
    from conftest import NetworkAccessError

    with pytest.raises(NetworkAccessError):
        socket.create_connection(("192.0.2.1", 80), timeout=0.1)
    sock = socket.socket()
    try:
        with pytest.raises(NetworkAccessError):
            sock.connect(("198.51.100.7", 443))
    finally:
        sock.close()


# -- in process ------------------------------------------------------------------------------------


def test_in_process_round_trip(sandbox_app: SandboxApp, sandbox_wsgi: httpx.Client) -> None:
    created = sandbox_wsgi.post(ACTIONS, json={**NEW, "after_action_id": 40})
    assert created.status_code == 201
    assert created.json()["url"] == f"http://sandbox.local{ACTIONS}/{created.json()['id']}"
    listed = [a["id"] for a in sandbox_wsgi.get(ACTIONS).json()["actions"]]
    assert listed == [40, created.json()["id"], 41]
    assert sandbox_app.stats()["by_method"] == {"POST": 1, "GET": 1}


def test_in_process_errors_and_headers(sandbox_wsgi: httpx.Client) -> None:
    response = sandbox_wsgi.patch(f"{ACTIONS}/41", json={"type": "SLACK"})
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    assert "X-Rate-Limit-Remaining" in response.headers
    assert sandbox_wsgi.get(f"{PROJECT_PATH}/pipelines/123").status_code == 404


# -- the wire --------------------------------------------------------------------------------------


def _raw_exchange(handle: SandboxHandle, data: bytes) -> bytes:
    host, port = handle.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(data)
        received = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return received
            received += chunk


def test_malformed_requests_are_400_and_closed(sandbox_server: SandboxHandle) -> None:
    answer = _raw_exchange(sandbox_server, b"NONSENSE\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 ") and b"Connection: close" in answer
    answer = _raw_exchange(sandbox_server, b"GET / HTTP/1.1\r\nno colon here\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"X-Rate-Limit-Limit: " in answer and b"X-Rate-Limit-Reset: " in answer  # on every answer
    assert answer.endswith(b'"}]}')  # the usual error body


def test_http_1_0_closes_and_expect_continue_is_answered(sandbox_server: SandboxHandle) -> None:
    auth = f"Authorization: Bearer {sandbox_server.token}\r\n".encode()
    answer = _raw_exchange(sandbox_server, b"GET " + ACTIONS.encode() + b" HTTP/1.0\r\n" + auth + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 200 ") and b"Connection: close" in answer
    body = b'{"name": "Via curl", "type": "DOCKER_BUILD_MULTI_ARCH"}'
    request = (
        b"POST " + ACTIONS.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + auth
        + b"Expect: 100-continue\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
    )  # fmt: skip
    answer = _raw_exchange(sandbox_server, request)
    assert answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 ")


def test_non_ascii_workspace_project_and_pipeline_names_work_over_http() -> None:
    from reconciler.sandbox import SandboxState

    seed = {"workspaces": {"ws-ü": {"projects": {"prøject": {"pipelines": [{"id": 3, "name": "Größe"}]}}}}}
    app = SandboxApp(SandboxState.from_data(seed))
    headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    with (
        SandboxServer(app, poll_interval=0.005) as server,
        httpx.Client(base_url=server.url, headers=headers, verify=tls_context()) as client,
    ):
        listed = client.get("/workspaces/ws-ü/projects/prøject/pipelines")
        assert listed.status_code == 200, listed.text
        assert [p["name"] for p in listed.json()["pipelines"]] == ["Größe"]
        assert "/workspaces/ws-%C3%BC/projects/pr%C3%B8ject/" in listed.json()["pipelines"][0]["url"]
        created = client.post("/workspaces/ws-ü/projects/prøject/pipelines", json={"name": "Déploiement ✓"})
        assert created.status_code == 201 and created.json()["name"] == "Déploiement ✓"
        assert client.get("/workspaces/ws-u/projects/prøject/pipelines").status_code == 404
    assert [p.name for _w, _p, p in app.state.iter_pipelines()] == ["Größe", "Déploiement ✓"]


def test_an_escaped_slash_or_question_mark_in_a_name_stays_inside_its_path_segment_over_http() -> None:
    from reconciler.sandbox import SandboxState

    project = "a/b?c#d%2Fe"
    seed = {"workspaces": {"w/s": {"projects": {project: {"pipelines": [{"id": 3, "name": "P"}]}}}}}
    app = SandboxApp(SandboxState.from_data(seed))
    headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    with (
        SandboxServer(app, poll_interval=0.005) as server,
        httpx.Client(base_url=server.url, headers=headers, verify=tls_context()) as client,
    ):
        listed = client.get("/workspaces/w%2Fs/projects/a%2Fb%3Fc%23d%252Fe/pipelines")
        assert listed.status_code == 200, listed.text
        assert "/workspaces/w%2Fs/projects/a%2Fb%3Fc%23d%252Fe/pipelines/3" in listed.json()["pipelines"][0]["url"]
        one = client.get("/workspaces/w%2Fs/projects/a%2Fb%3Fc%23d%252Fe/pipelines/3")
        assert one.status_code == 200 and one.json()["name"] == "P"
        assert client.get("/workspaces/w/s/projects/a%2Fb%3Fc%23d%252Fe/pipelines").status_code == 404
