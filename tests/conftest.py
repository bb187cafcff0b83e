"""Shared fixtures: the sandbox (in process and over real HTTP) and a guard against real networks."""

from __future__ import annotations

import copy
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from reconciler.sandbox import DEFAULT_TOKEN, SandboxApp, SandboxServer, SandboxState

#: A small project: one pipeline holding a BUILD action and a multi-arch action.
SANDBOX_SEED: dict[str, Any] = {
    "workspaces": {
        "acme": {
            "projects": {
                "web": {
                    "pipelines": [
                        {
                            "id": 7,
                            "name": "Release images",
                            "refs": ["refs/heads/main"],
                            "actions": [
                                {"id": 40, "name": "Run tests", "type": "BUILD", "commands": ["make test"]},
                                {
                                    "id": 41,
                                    "name": "Build app image",
                                    "type": "DOCKER_BUILD_MULTI_ARCH",
                                    "dockerfile_path": "Dockerfile",
                                    "cache_mode": "MIN",
                                    "login": "acme-bot",
                                    "password": "seed-plaintext-password",
                                },
                            ],
                        },
                        {"id": 9, "name": "Docs", "git_config_ref": "FIXED", "actions": []},
                    ]
                }
            }
        }
    }
}
PROJECT_PATH = "/workspaces/acme/projects/web"
_TLS: list[ssl.SSLContext] = []


def tls_context() -> ssl.SSLContext:
    """One TLS context for every test client: building one per client costs ~90 ms of certificate
    loading, and sandbox traffic is plain http on loopback, so it is never used anyway."""
    if not _TLS:
        _TLS.append(ssl.create_default_context())
    return _TLS[0]


# -- no real network in tests ----------------------------------------------------------------------


class NetworkAccessError(AssertionError):
    """A test tried to reach a non-loopback address."""


def _loopback_address(address: Any) -> bool:
    if isinstance(address, str | bytes):  # AF_UNIX path
        return True
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, bytes):
        host = host.decode()
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _no_external_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail loudly if a test connects anywhere but 127.0.0.0/8 or ::1."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_create_connection = socket.create_connection

    def guard(address: Any) -> None:
        if not _loopback_address(address):
            raise NetworkAccessError(f"test tried to reach the network: {address!r} (only loopback is allowed)")

    def connect(self: socket.socket, address: Any) -> None:
        guard(address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        guard(address)
        return real_connect_ex(self, address)

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        guard(address)
        return real_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "create_connection", create_connection)


# -- the sandbox -----------------------------------------------------------------------------------


@dataclass
class SandboxHandle:
    """A running sandbox server: its base URL, its all-scopes token and the app behind it."""

    url: str
    token: str
    app: SandboxApp
    server: SandboxServer

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        """An httpx client for this server (close it, or use it as a context manager)."""
        headers = {"Authorization": f"Bearer {token or self.token}"}
        kwargs.setdefault("verify", tls_context())
        return httpx.Client(base_url=self.url, headers=headers, timeout=10.0, **kwargs)


@pytest.fixture
def sandbox_seed() -> dict[str, Any]:
    """A fresh copy of ``SANDBOX_SEED`` (workspace acme, project web, pipelines 7 and 9)."""
    return copy.deepcopy(SANDBOX_SEED)


@pytest.fixture
def sandbox_app(sandbox_seed: dict[str, Any]) -> SandboxApp:
    """A sandbox app seeded with ``sandbox_seed``, default token, no faults."""
    return SandboxApp(SandboxState.from_data(sandbox_seed))


@pytest.fixture
def sandbox_server(sandbox_app: SandboxApp) -> Iterator[SandboxHandle]:
    """``sandbox_app`` served on 127.0.0.1 (a free port), stopped after the test."""
    with SandboxServer(sandbox_app, poll_interval=0.005) as server:
        yield SandboxHandle(url=server.url, token=DEFAULT_TOKEN, app=sandbox_app, server=server)


@pytest.fixture
def sandbox_http(sandbox_server: SandboxHandle) -> Iterator[httpx.Client]:
    """An httpx client bound to ``sandbox_server`` with the default token."""
    with sandbox_server.client() as client:
        yield client


@pytest.fixture
def sandbox_wsgi(sandbox_app: SandboxApp) -> Iterator[httpx.Client]:
    """An httpx client running ``sandbox_app`` in process (``httpx.WSGITransport``)."""
    transport = httpx.WSGITransport(app=sandbox_app)
    headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    with httpx.Client(
        transport=transport, base_url="http://sandbox.local", headers=headers, verify=tls_context()
    ) as client:
        yield client
