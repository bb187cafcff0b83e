"""How many requests per second the sandbox server sustains on this machine.

8 client threads, each with its own keep-alive ``httpx.Client``, send a mix of action-list GETs,
action GETs and a few PATCHes (no latency, no faults) until a request count or a time budget is
reached. By default the server runs in this process (its threads then share the GIL with the
clients, so the figure is a floor); ``--subprocess`` serves it from a separate Python process, and
``--client-processes N`` spreads the client threads over N processes (httpx costs more CPU per
request than the server does, so on a small machine one client process is the bottleneck).
``--raw`` replaces httpx by bare keep-alive sockets sending the same mix, to measure the server
alone.

    python benchmarks/bench_sandbox.py [--threads 8] [--requests 20000] [--seconds 10]
                                       [--subprocess] [--client-processes N] [--raw]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from reconciler.sandbox import DEFAULT_TOKEN, SandboxApp, SandboxServer, SandboxState

WORKSPACE, PROJECT, PIPELINE = "bench", "web", 1
PREFIX = f"/workspaces/{WORKSPACE}/projects/{PROJECT}/pipelines/{PIPELINE}/actions"


def seed(actions: int = 30) -> dict[str, object]:
    """One pipeline holding ``actions`` multi-arch actions (ids 2…)."""
    return {
        "workspaces": {
            WORKSPACE: {
                "projects": {
                    PROJECT: {
                        "pipelines": [
                            {
                                "id": PIPELINE,
                                "name": "Bench",
                                "actions": [
                                    {
                                        "id": 2 + i,
                                        "name": f"Build {i}",
                                        "type": "DOCKER_BUILD_MULTI_ARCH",
                                        "dockerfile_path": "Dockerfile",
                                        "build_args": ["A=1", "B=2"],
                                        "password": "bench-secret",
                                    }
                                    for i in range(actions)
                                ],
                            }
                        ]
                    }
                }
            }
        }
    }


@contextmanager
def in_process() -> Iterator[str]:
    app = SandboxApp(SandboxState.from_data(seed()))
    with SandboxServer(app) as server:
        yield server.url


@contextmanager
def in_subprocess() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        seed_file = Path(tmp, "seed.json")
        seed_file.write_text(json.dumps(seed()), encoding="utf-8")
        code = (
            "import sys;"
            "from reconciler.sandbox import SandboxApp, SandboxServer, SandboxState;"
            "s = SandboxServer(SandboxApp(SandboxState.from_file(sys.argv[1]))).start();"
            "print(s.url, flush=True);"
            "sys.stdin.read();"
            "s.stop()"
        )
        proc = subprocess.Popen(
            [sys.executable, "-c", code, str(seed_file)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            yield proc.stdout.readline().strip()
        finally:
            assert proc.stdin is not None
            proc.stdin.close()  # the child stops when its stdin closes
            proc.wait(timeout=10)
            proc.stdout.close()  # type: ignore[union-attr]


def run(url: str, threads: int, requests: int, seconds: float) -> tuple[int, int, float]:
    """(requests done, errors, elapsed seconds)."""
    budget = threading.Semaphore(requests)
    deadline = time.perf_counter() + seconds
    counts = [0] * threads
    errors = [0] * threads
    tls = ssl.create_default_context()  # shared: plain http never uses it, building one per client is slow
    start = threading.Barrier(threads + 1)

    def worker(n: int) -> None:
        headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
        with httpx.Client(base_url=url, headers=headers, verify=tls, timeout=10) as client:
            start.wait()
            i = 0
            while time.perf_counter() < deadline and budget.acquire(blocking=False):
                i += 1
                action = 2 + (n * 7 + i) % 30
                if i % 20 == 0:
                    response = client.patch(f"{PREFIX}/{action}", json={"timeout": i})
                elif i % 3 == 0:
                    response = client.get(f"{PREFIX}/{action}")
                else:
                    response = client.get(PREFIX)
                counts[n] += 1
                if response.status_code >= 400:
                    errors[n] += 1

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    start.wait()
    t0 = time.perf_counter()
    for thread in pool:
        thread.join()
    return sum(counts), sum(errors), time.perf_counter() - t0


def run_raw(url: str, threads: int, requests: int, seconds: float) -> tuple[int, int, float]:
    """Like ``run``, with bare sockets: HTTP/1.1 requests written by hand, answers read by length."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    budget = threading.Semaphore(requests)
    deadline = time.perf_counter() + seconds
    counts = [0] * threads
    errors = [0] * threads
    start = threading.Barrier(threads + 1)
    auth = f"Authorization: Bearer {DEFAULT_TOKEN}\r\nHost: {host}:{port}\r\n"

    def request(method: str, path: str, body: bytes = b"") -> bytes:
        head = (
            f"{method} {path} HTTP/1.1\r\n{auth}Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    def worker(n: int) -> None:
        with socket.create_connection((host, int(port))) as sock, sock.makefile("rb") as answers:
            start.wait()
            i = 0
            while time.perf_counter() < deadline and budget.acquire(blocking=False):
                i += 1
                action = 2 + (n * 7 + i) % 30
                if i % 20 == 0:
                    sock.sendall(request("PATCH", f"{PREFIX}/{action}", json.dumps({"timeout": i}).encode()))
                elif i % 3 == 0:
                    sock.sendall(request("GET", f"{PREFIX}/{action}"))
                else:
                    sock.sendall(request("GET", PREFIX))
                status = answers.readline()
                length = 0
                while (line := answers.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                answers.read(length)
                counts[n] += 1
                if not status.startswith(b"HTTP/1.1 2"):
                    errors[n] += 1

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    start.wait()
    t0 = time.perf_counter()
    for thread in pool:
        thread.join()
    return sum(counts), sum(errors), time.perf_counter() - t0


def run_processes(url: str, processes: int, threads: int, requests: int, seconds: float) -> tuple[int, int, float]:
    """``run`` in ``processes`` child processes, ``threads`` split between them."""
    children = []
    for i in range(processes):
        share = threads // processes + (1 if i < threads % processes else 0)
        argv = [sys.executable, __file__, "--worker", url, str(share), str(requests // processes), str(seconds)]
        children.append(subprocess.Popen(argv, stdout=subprocess.PIPE, text=True))
    results = []
    for child in children:
        out, _ = child.communicate(timeout=seconds + 60)
        results.append(json.loads(out))
    # the children start at slightly different times: the longest run is the honest denominator
    return sum(r[0] for r in results), sum(r[1] for r in results), max(r[2] for r in results)


def main() -> int:
    if len(sys.argv) == 6 and sys.argv[1] == "--worker":
        url, threads, requests, seconds = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
        print(json.dumps(run(url, threads, requests, seconds)))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--subprocess", action="store_true", help="serve from a separate process")
    parser.add_argument("--client-processes", type=int, default=1, help="spread the client threads over N processes")
    parser.add_argument("--raw", action="store_true", help="bare sockets instead of httpx: the server alone")
    args = parser.parse_args()
    server = in_subprocess() if args.subprocess else in_process()
    with server as url:
        if args.raw:
            done, errors, elapsed = run_raw(url, args.threads, args.requests, args.seconds)
        elif args.client_processes > 1:
            done, errors, elapsed = run_processes(url, args.client_processes, args.threads, args.requests, args.seconds)
        else:
            done, errors, elapsed = run(url, args.threads, args.requests, args.seconds)
    where = "separate process" if args.subprocess else "same process"
    kind = "raw socket" if args.raw else "httpx"
    print(
        f"sandbox ({where}, {args.threads} keep-alive {kind} clients in {args.client_processes} process(es), "
        f"cpus={os.cpu_count()}): {done} requests in {elapsed:.2f} s = {done / elapsed:,.0f} req/s, {errors} errors"
    )
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
