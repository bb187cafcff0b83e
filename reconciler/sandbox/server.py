"""Serve a WSGI app (the sandbox) over real HTTP/1.1 on a loopback address.

The stdlib's ``ThreadingHTTPServer`` with a small handler that adapts each request to WSGI. Why not
``wsgiref``: it speaks HTTP/1.0 and closes every connection, so a client could never exercise
keep-alive, and a dropped connection could not be told apart from a normal close.

Three details make it fast and faithful:

* one request per thread, so a latency fault on one request never holds up another;
* the status line, headers and body go out in a single write with ``TCP_NODELAY`` set, so a
  response never waits for the peer's delayed ACK (about 40 ms per request otherwise);
* ``Content-Length`` is always set, so keep-alive connections stay usable.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import logging
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from reconciler.errors import SandboxError
from reconciler.sandbox.faults import ConnectionDropped

log = logging.getLogger("reconciler.sandbox")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_IDLE_TIMEOUT_S = 60.0  # an idle keep-alive connection is closed after this long


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # a burst of clients connecting at once must not be refused by a short accept queue
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: WSGIApp, family: socket.AddressFamily) -> None:
        self.address_family = family
        self.app = app
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        self.accepted = 0
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that vanishes mid-request is normal here (drop faults, killed tests): no traceback
        log.debug("sandbox connection error from %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = _IDLE_TIMEOUT_S

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.connection)
            self.server.accepted += 1

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.connections_lock:
                self.server.connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        # the stdlib writes every request line to stderr; keep quiet (and never near a header)
        pass

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def __getattr__(self, name: str) -> Any:
        # every method (GET, POST, PATCH, DELETE, PUT, …) goes to the app, which answers 405 itself
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _environ(self, body: bytes) -> dict[str, Any]:
        path, _, query = self.path.partition("?")
        host, port = self.server.server_address[:2]
        environ: dict[str, Any] = {
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote(path, encoding="latin-1"),
            "QUERY_STRING": query,
            "SERVER_NAME": str(host),
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "CONTENT_LENGTH": str(len(body)),
        }
        if self.headers.get("Content-Type"):
            environ["CONTENT_TYPE"] = self.headers["Content-Type"]
        for key, value in self.headers.items():
            name = "HTTP_" + key.upper().replace("-", "_")
            if name not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                environ[name] = value
        return environ

    def _serve(self) -> None:
        body = self._read_body()
        captured: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[..., Any]:
            captured["status"], captured["headers"] = status, headers
            return lambda _data: None

        try:
            chunks = self.server.app(self._environ(body), start_response)
            try:
                payload = b"".join(chunks)
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
        except ConnectionDropped:
            # answer nothing; closing the socket is the whole point of the fault
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        except Exception:
            log.exception("sandbox app failed on %s %s", self.command, self.path.partition("?")[0])
            captured = {"status": "500 Internal Server Error", "headers": [("Content-Type", "application/json")]}
            payload = b'{"errors":[{"message":"Internal sandbox error"}]}'
        lines = [f"HTTP/1.1 {captured['status']}"]
        for key, value in captured["headers"]:
            if key.lower() not in ("content-length", "connection"):
                lines.append(f"{key}: {value}")
        lines.append(f"Content-Length: {len(payload)}")
        if self.headers.get("Connection", "").lower() == "close":
            self.close_connection = True
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + payload)  # one write: see the module docstring


class SandboxServer:
    """Run ``app`` on ``host:port`` (port 0: any free port) in background threads.

    Only loopback addresses are accepted: the sandbox must never be reachable from another machine.
    Use as a context manager, or ``start()`` / ``stop()``; ``url`` is the base URL once started.
    ``poll_interval``: how often the accept loop checks for ``stop()`` (seconds).
    """

    def __init__(self, app: WSGIApp, host: str = "127.0.0.1", port: int = 0, *, poll_interval: float = 0.02) -> None:
        if not _is_loopback_host(host):
            raise SandboxError(f"the sandbox serves only on a loopback address, not {host!r}")
        self.app = app
        self.host = "127.0.0.1" if host == "localhost" else host
        self.port = port
        self.poll_interval = poll_interval  # how soon stop() is noticed
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise SandboxError("the sandbox server is not running")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def connections_accepted(self) -> int:
        """How many TCP connections were accepted so far (keep-alive means few)."""
        return self._server.accepted if self._server is not None else 0

    def start(self) -> SandboxServer:
        """Bind and serve in a daemon thread; returns self."""
        if self._server is not None:
            return self
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        try:
            server = _Server((self.host, self.port), self.app, family)
        except OSError as exc:
            raise SandboxError(f"cannot serve the sandbox on {self.host}:{self.port}: {exc.strerror}") from None
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": self.poll_interval},
            name="sandbox-server",
            daemon=True,
        )
        self._thread.start()
        log.info("sandbox serving on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop accepting, close every open connection and release the port."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        with server.connections_lock:
            open_connections = list(server.connections)
        for conn in open_connections:
            # wakes the handler threads blocked on an idle keep-alive connection so they end now
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def serve_forever(self) -> None:
        """Serve in the calling thread until ``stop()`` is called from another thread (or Ctrl-C)."""
        self.start()
        assert self._thread is not None
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(timeout=0.5)
        finally:
            self.stop()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
