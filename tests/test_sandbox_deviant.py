"""Deviant modes: the sandbox really answers the way each mode says, over real HTTP."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest
from conftest import PROJECT_PATH, SandboxHandle, tls_context

from reconciler.sandbox import DEFAULT_TOKEN, DEVIANT_MODES, SandboxApp

PIPELINES = f"{PROJECT_PATH}/pipelines"
ACTIONS = f"{PROJECT_PATH}/pipelines/7/actions"
NEW = {"name": "Build worker image", "type": "DOCKER_BUILD_MULTI_ARCH"}


def names(app: SandboxApp) -> list[str]:
    pipeline = app.state.pipeline("acme", "web", 7)
    assert pipeline is not None
    return [a.name for a in pipeline.actions]


@pytest.mark.parametrize(
    ("mode", "check"),
    [
        ("item_without_id", lambda item: isinstance(item, dict) and "id" not in item and "name" in item),
        ("item_id_string", lambda item: item["id"] == "x"),
        ("item_id_null", lambda item: "id" in item and item["id"] is None),
        ("item_not_object", lambda item: isinstance(item, str)),
    ],
)
def test_list_item_modes_break_every_item_of_both_lists(
    sandbox_server: SandboxHandle, sandbox_http: httpx.Client, mode: str, check: Any
) -> None:
    sandbox_server.app.set_deviant(mode)
    for path, key in ((PIPELINES, "pipelines"), (ACTIONS, "actions")):
        response = sandbox_http.get(path)
        assert response.status_code == 200
        items = response.json()[key]
        assert len(items) == 2 and all(check(item) for item in items), items
    assert isinstance(sandbox_http.get(f"{PIPELINES}/7").json()["id"], int)  # single objects are left alone


def test_empty_body_answers_200_with_nothing(sandbox_server: SandboxHandle, sandbox_http: httpx.Client) -> None:
    sandbox_server.app.set_deviant("empty_body")
    response = sandbox_http.get(f"{PIPELINES}/7")
    assert response.status_code == 200 and response.content == b""
    assert response.headers["Content-Length"] == "0"


def test_list_for_object_answers_a_json_list(sandbox_server: SandboxHandle, sandbox_http: httpx.Client) -> None:
    sandbox_server.app.set_deviant("list_for_object")
    single = sandbox_http.get(f"{PIPELINES}/7").json()
    assert isinstance(single, list) and single[0]["id"] == 7
    bare = sandbox_http.get(PIPELINES).json()
    assert isinstance(bare, list) and [p["id"] for p in bare] == [7, 9]


def test_html_body_answers_a_web_page(sandbox_server: SandboxHandle, sandbox_http: httpx.Client) -> None:
    sandbox_server.app.set_deviant("html_body")
    response = sandbox_http.get(ACTIONS)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html")
    assert response.content.startswith(b"<!DOCTYPE html>")
    with pytest.raises(ValueError):
        response.json()


def test_create_204_creates_and_answers_nothing(sandbox_server: SandboxHandle, sandbox_http: httpx.Client) -> None:
    sandbox_server.app.set_deviant("create_204", count=1)
    assert sandbox_http.get(ACTIONS).status_code == 200  # a read does not spend the rule
    response = sandbox_http.post(ACTIONS, json=NEW)
    assert response.status_code == 204 and response.content == b""
    assert names(sandbox_server.app)[-1] == NEW["name"]
    assert sandbox_http.post(ACTIONS, json=NEW).status_code == 201  # spent


def test_create_empty_object_creates_and_answers_no_id(
    sandbox_server: SandboxHandle, sandbox_http: httpx.Client
) -> None:
    sandbox_server.app.set_deviant("create_empty_object")
    response = sandbox_http.post(PIPELINES, json={"name": "Fresh"})
    assert response.status_code == 201 and response.json() == {}
    assert "Fresh" in [p["name"] for p in sandbox_http.get(PIPELINES).json()["pipelines"]]


def test_redirect_points_elsewhere_and_does_nothing(sandbox_server: SandboxHandle, sandbox_http: httpx.Client) -> None:
    sandbox_server.app.set_deviant("redirect")
    response = sandbox_http.post(ACTIONS, json=NEW)
    assert response.status_code == 302
    assert response.headers["Location"] == f"{sandbox_server.url}/moved{ACTIONS}"
    assert names(sandbox_server.app) == ["Run tests", "Build app image"]


def test_ignore_page_answers_the_first_page_for_any_page(
    sandbox_server: SandboxHandle, sandbox_http: httpx.Client
) -> None:
    sandbox_server.app.set_deviant("ignore_page")
    pages = [sandbox_http.get(PIPELINES, params={"page": n, "per_page": 1}).json()["pipelines"] for n in (1, 2, 50)]
    assert [[p["id"] for p in page] for page in pages] == [[7], [7], [7]]


def test_endless_pages_are_full_with_fresh_ids_forever(
    sandbox_server: SandboxHandle, sandbox_http: httpx.Client
) -> None:
    sandbox_server.app.set_deviant("endless_pages")
    seen: set[int] = set()
    for page in (1, 2, 3, 1000):
        items = sandbox_http.get(PIPELINES, params={"page": page, "per_page": 5}).json()["pipelines"]
        ids = {item["id"] for item in items}
        assert len(items) == 5 and not ids & seen
        seen |= ids
    assert len(sandbox_http.get(ACTIONS).json()["actions"]) == 20  # the default per_page


def test_trickle_body_sends_one_byte_at_a_time(sandbox_server: SandboxHandle) -> None:
    sandbox_server.app.set_deviant("trickle_body", ms=300)
    host, port = sandbox_server.server.host, sandbox_server.server.port
    with socket.create_connection((host, port), timeout=5) as sock:
        request = f"GET {PIPELINES}/7 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {DEFAULT_TOKEN}\r\n\r\n"
        sock.sendall(request.encode())
        received = b""
        while b"\r\n\r\n" not in received:
            received += sock.recv(65536)
        head, _, body = received.partition(b"\r\n\r\n")
        length = int(
            next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")).split(b":")[1]
        )
        assert length > 100
        if not body:
            body = sock.recv(65536)
        assert len(body) == 1  # the rest follows 300 ms apart, byte by byte


def test_echo_authorization_puts_the_header_in_the_error(
    sandbox_server: SandboxHandle, sandbox_http: httpx.Client
) -> None:
    sandbox_server.app.set_deviant("echo_authorization")
    response = sandbox_http.get(ACTIONS)
    assert response.status_code == 400
    assert f"Bearer {DEFAULT_TOKEN}" in response.json()["errors"][0]["message"]


def test_deviant_modes_are_listed_and_set_through_the_control_api(
    sandbox_server: SandboxHandle, sandbox_http: httpx.Client
) -> None:
    with httpx.Client(base_url=sandbox_server.url, verify=tls_context()) as ctl:
        listed = ctl.get("/__sandbox/deviants").json()
        assert set(listed) == set(DEVIANT_MODES) and len(listed) == 14
        body = {"rules": [{"kind": "deviant", "mode": "item_id_null", "route": "/pipelines", "count": 1}]}
        assert ctl.post("/__sandbox/faults", json=body).status_code == 200
        assert sandbox_http.get(ACTIONS).json()["actions"][0]["id"] == 40  # another route
        assert sandbox_http.get(PIPELINES).json()["pipelines"][0]["id"] is None
        assert sandbox_http.get(PIPELINES).json()["pipelines"][0]["id"] == 7  # count spent
        assert ctl.get("/__sandbox/stats").json()["faults"] == {"deviant:item_id_null": 1}
        bad = ctl.post("/__sandbox/faults", json={"rules": [{"kind": "deviant", "mode": "gremlin"}]})
        assert bad.status_code == 400 and "gremlin" in bad.text
