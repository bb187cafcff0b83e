"""Benchmarks of plan and apply at scale against the sandbox with injected latency.

    python benchmarks/bench_reconcile.py plan  [--pipelines 200] [--actions 10] [--latency-ms 20] [--parallelism 8 32]
    python benchmarks/bench_reconcile.py apply [--pipelines 200] [--actions 10] [--latency-ms 20] [--parallelism 8 32]

The sandbox runs in a separate process (``reconcile sandbox``) so that its work does not share the
benchmark's interpreter lock. For each parallelism the script prints the wall time, the requests
the sandbox served, and the lower bound:

* plan: necessary requests x latency / parallelism, where the necessary requests are SPEC.md's
  count: the pipeline-list pages, one action-list page per declared pipeline, one GET per declared
  live action;
* apply: the creates start from empty pipelines, so the bound is the larger of one pipeline's chain
  of creates (they must be sequential) and all requests x latency / parallelism.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from reconciler import engine
from reconciler.client import PER_PAGE, BuddyClient
from reconciler.config import load_config
from reconciler.diff import Options
from reconciler.sandbox import DEFAULT_TOKEN

MA = "DOCKER_BUILD_MULTI_ARCH"


def write_files(folder: Path, pipelines: int, actions: int, *, live_actions: bool) -> tuple[Path, Path]:
    """A config of ``pipelines`` x ``actions`` and a seed with the same pipelines (with their
    actions live and one field drifted each when ``live_actions``, else empty)."""
    config = ["workspace: acme", "project: scale", "pipelines:"]
    seed_pipelines = []
    next_id = 1
    for p in range(pipelines):
        config.append(f"  - name: Pipeline {p:04d}\n    actions:")
        live = []
        for a in range(actions):
            config.append(
                f"      - {{name: Build {a:02d}, type: {MA}, dockerfile_path: d{a}/Dockerfile, cache_mode: MAX,"
                f" target_platform: 'linux/amd64,linux/arm64'}}"
            )
            live.append(
                {
                    "id": 100_000 + next_id,
                    "name": f"Build {a:02d}",
                    "type": MA,
                    "dockerfile_path": f"d{a}/Dockerfile",
                    "cache_mode": "MIN" if a == 0 else "MAX",
                    "target_platform": "linux/arm64,linux/amd64",
                }
            )
            next_id += 1
        seed_pipelines.append({"id": p + 1, "name": f"Pipeline {p:04d}", "actions": live if live_actions else []})
    config_path = folder / "scale.yml"
    config_path.write_text("\n".join(config) + "\n")
    seed_path = folder / "seed.json"
    seed = {"workspaces": {"acme": {"projects": {"scale": {"pipelines": seed_pipelines}}}}}
    seed_path.write_text(json.dumps(seed))
    return config_path, seed_path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_sandbox(seed: Path, latency_ms: float) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reconciler",
            "sandbox",
            "--port",
            str(port),
            "--seed",
            str(seed),
            "--latency-ms",
            str(latency_ms),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/__sandbox/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the sandbox did not start")


def control(url: str, method: str, path: str) -> dict:
    response = httpx.request(method, f"{url}{path}", timeout=10)
    return response.json() if response.content else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["plan", "apply"])
    parser.add_argument("--pipelines", type=int, default=200)
    parser.add_argument("--actions", type=int, default=10)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--parallelism", type=int, nargs="+", default=[8, 32])
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config, seed = write_files(folder, args.pipelines, args.actions, live_actions=args.mode == "plan")
        desired = load_config([config]).pipelines
        latency = args.latency_ms / 1000
        for parallelism in args.parallelism:
            proc, url = start_sandbox(seed, args.latency_ms)
            try:
                with BuddyClient(url, DEFAULT_TOKEN, parallelism=parallelism) as client:
                    control(url, "POST", "/__sandbox/stats/reset")
                    started = time.perf_counter()
                    if args.mode == "plan":
                        made = engine.build_plan(client, desired, Options())
                        assert made.summary["update"] == args.pipelines, made.summary
                    else:
                        made, report = engine.apply(engine.given(client), [config], Options())
                        assert report.ok and made.summary["create"] == args.pipelines * args.actions
                    wall = time.perf_counter() - started
                    stats = control(url, "GET", "/__sandbox/stats")
            finally:
                proc.terminate()
                proc.wait(timeout=10)
            served = stats["total"]
            list_pages = args.pipelines // PER_PAGE + 1
            if args.mode == "plan":
                necessary = list_pages + args.pipelines + args.pipelines * args.actions
                bound = necessary * latency / parallelism
            else:
                necessary = list_pages + args.pipelines + args.pipelines * args.actions
                bound = max(args.actions * latency, necessary * latency / parallelism)
            print(
                f"{args.mode}: {args.pipelines} pipelines x {args.actions} actions, {args.latency_ms:g} ms latency, "
                f"parallelism {parallelism}: wall {wall:.2f} s, requests {served} (necessary {necessary}), "
                f"lower bound {bound:.2f} s, ratio {wall / bound:.2f}  by method {stats['by_method']}"
            )
            sys.stdout.flush()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
