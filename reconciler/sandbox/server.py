"""Serve a WSGI app (the sandbox) over real HTTP/1.1 on a loopback address.

The stdlib's ``ThreadingHTTPServer`` with a small handler of our own that parses HTTP/1.1 and adapts
each request to WSGI. Why not ``wsgiref``: it speaks HTTP/1.0 and closes every connection, so a
client could never exercise keep-alive, and a dropped connection could not be told apart from a
normal close.

Three details make it fast and faithful:

* one request per thread, so a latency fault on one request never holds up another;
* the status line, headers and body go out in a single write with ``TCP_NODELAY`` set, so a
  response never waits for the peer's delayed ACK (about 40 ms per request otherwise);
* ``Content-Length`` is always set, so keep-alive connections stay usable.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from http.server import ThreadingHTTPServer
from socketserver import StreamRequestHandler
from typing import Any
from urllib.parse import unquote_to_bytes

from reconciler.errors import SandboxError
from reconciler.loopback import is_loopback_host
from reconciler.sandbox.faults import ConnectionDropped
from reconciler.sandbox.wsgi import RAW_PATH

log = logging.getLogger("reconciler.sandbox")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_IDLE_TIMEOUT_S = 60.0  # an idle keep-alive connection is closed after this long
_MAX_LINE = 65536
_MAX_HEADERS = 100


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


class _BadRequest(Exception):
    """The bytes on the wire are not an HTTP/1.x request we can answer."""


class _Handler(StreamRequestHandler):
    """One connection: a loop of requests (keep-alive) until the client closes or asks to.

    Parsing is done by hand rather than through ``BaseHTTPRequestHandler``: its header parsing goes
    through the ``email`` package and costs more than the whole of a typical sandbox request.
    """

    server: _Server
    timeout = _IDLE_TIMEOUT_S
    close_connection: bool

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

    def handle(self) -> None:
        self.close_connection = False
        while not self.close_connection:
            try:
                self._handle_one()
            except (ConnectionError, TimeoutError, OSError):
                return
            except _BadRequest as exc:
                self._write("400 Bad Request", self._error_headers(), _error_json(str(exc)), True)
                return

    def _handle_one(self) -> None:
        line = self.rfile.readline(_MAX_LINE + 1)
        if not line:
            self.close_connection = True
            return
        if len(line) > _MAX_LINE:
            raise _BadRequest("request line too long")
        parts = line.decode("latin-1").split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise _BadRequest("malformed request line")
        method, target, version = parts
        headers: dict[str, str] = {}
        for _ in range(_MAX_HEADERS + 1):
            raw = self.rfile.readline(_MAX_LINE + 1)
            if raw in (b"\r\n", b"\n", b""):
                break
            name, sep, value = raw.decode("latin-1").partition(":")
            if not sep:
                raise _BadRequest("malformed header line")
            key = name.strip().lower()
            # repeated headers are joined, as RFC 9110 allows for list-valued fields
            headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
        else:
            raise _BadRequest("too many headers")
        connection = headers.get("connection", "").lower()
        keep_alive = connection != "close" and (version != "HTTP/1.0" or connection == "keep-alive")
        if headers.get("expect", "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # curl waits for this before a large body
        body = self._read_body(headers)
        self._serve(method, target, version, headers, body, keep_alive)

    def _read_body(self, headers: dict[str, str]) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                try:
                    size = int(self.rfile.readline(_MAX_LINE).split(b";")[0].strip() or b"0", 16)
                except ValueError:
                    raise _BadRequest("malformed chunk size") from None
                if size == 0:
                    while self.rfile.readline(_MAX_LINE) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(_MAX_LINE)
        try:
            length = int(headers.get("content-length") or 0)
        except ValueError:
            raise _BadRequest("malformed Content-Length") from None
        return self.rfile.read(length) if length > 0 else b""

    def _environ(self, method: str, target: str, version: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        path, _, query = target.partition("?")
        host, port = self.server.server_address[:2]
        environ: dict[str, Any] = {
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "REQUEST_METHOD": method.upper(),
            "SCRIPT_NAME": "",
            "PATH_INFO": _decode_path(path),
            RAW_PATH: path,  # still escaped: routing splits it before decoding, so a %2F stays in its name
            "QUERY_STRING": query,
            "SERVER_NAME": str(host),
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": version,
            "REMOTE_ADDR": self.client_address[0],
            "CONTENT_LENGTH": str(len(body)),
        }
        for key, value in headers.items():
            if key == "content-type":
                environ["CONTENT_TYPE"] = value
            elif key != "content-length":
                environ["HTTP_" + key.upper().replace("-", "_")] = value
        return environ

    def _serve(
        self, method: str, target: str, version: str, headers: dict[str, str], body: bytes, keep_alive: bool
    ) -> None:
        captured: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[..., Any]:
            captured["status"], captured["headers"] = status, headers
            return lambda _data: None

        try:
            chunks = self.server.app(self._environ(method, target, version, headers, body), start_response)
            if not isinstance(chunks, list):  # an app that paces its body (a trickle): send as it comes
                self._stream(captured["status"], captured["headers"], chunks, not keep_alive)
                return
            payload = b"".join(chunks)
        except ConnectionDropped:
            # answer nothing; closing the socket is the whole point of the fault
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        except Exception:
            log.exception("sandbox app failed on %s %s", method, target.partition("?")[0])
            captured = {"status": "500 Internal Server Error", "headers": self._error_headers()}
            payload = _error_json("Internal sandbox error")
        self._write(captured["status"], captured["headers"], payload, not keep_alive)

    def _error_headers(self) -> list[tuple[str, str]]:
        """Headers of an answer the server gives on its own (a malformed request, a crash): JSON, and
        the app's rate-limit headers, which CONTRACT.md puts on every response."""
        headers = [("Content-Type", "application/json")]
        limiter = getattr(self.server.app, "rate_limiter", None)  # a plain WSGI app has none
        with contextlib.suppress(Exception):  # the answer of last resort must not fail in turn
            if limiter is not None:
                headers.extend(limiter.peek().items())
        return headers

    def _write(self, status: str, headers: list[tuple[str, str]], payload: bytes, close: bool) -> None:
        self.wfile.write(self._head(status, headers, len(payload), close) + payload)  # one write: see above

    def _stream(self, status: str, headers: list[tuple[str, str]], chunks: Iterable[bytes], close: bool) -> None:
        """Send the head, then each chunk as the app yields it (the app set ``Content-Length``)."""
        length = next((int(v) for k, v in headers if k.lower() == "content-length"), 0)
        try:
            self.wfile.write(self._head(status, headers, length, close))
            for chunk in chunks:
                self.wfile.write(chunk)
        finally:
            close_chunks = getattr(chunks, "close", None)
            if close_chunks is not None:
                close_chunks()

    def _head(self, status: str, headers: list[tuple[str, str]], length: int, close: bool) -> bytes:
        lines = [f"HTTP/1.1 {status}"]
        for key, value in headers:
            if key.lower() not in ("content-length", "connection"):
                lines.append(f"{key}: {value}")
        lines.append(f"Content-Length: {length}")
        if close:
            self.close_connection = True
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _decode_path(path: str) -> str:
    """The request path as text: percent-escapes (and any raw bytes) read as UTF-8, as
    ``httpx.WSGITransport`` does, so that ``ws-ü`` names the same workspace in process and on the
    wire. (The request line was read as Latin-1, which maps bytes to characters one to one.)"""
    return unquote_to_bytes(path.encode("latin-1")).decode("utf-8", errors="replace")


def _error_json(message: str) -> bytes:
    return json.dumps({"errors": [{"message": message}]}).encode("utf-8")


class SandboxServer:
    """Run ``app`` on ``host:port`` (port 0: any free port) in background threads.

    Only loopback addresses are accepted: the sandbox must never be reachable from another machine.
    Use as a context manager, or ``start()`` / ``stop()``; ``url`` is the base URL once started.
    ``poll_interval``: how often the accept loop checks for ``stop()`` (seconds).
    """

    def __init__(self, app: WSGIApp, host: str = "127.0.0.1", port: int = 0, *, poll_interval: float = 0.02) -> None:
        if not is_loopback_host(host):
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
