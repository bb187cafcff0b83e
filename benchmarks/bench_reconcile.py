"""Benchmarks of plan and apply at scale against the sandbox with injected latency.

    python benchmarks/bench_reconcile.py plan  [--pipelines 200] [--actions 10] [--latency-ms 20] [--parallelism 8 32]
    python benchmarks/bench_reconcile.py apply [--pipelines 200] [--actions 10] [--latency-ms 20] [--parallelism 8 32]
    python benchmarks/bench_reconcile.py plan --rate-limit 300 --rate-window 5     # under a rate budget
    python benchmarks/bench_reconcile.py plan --bare       # beside a bare httpx client making the same GETs

``--bare`` (plan, no budget): after each plan, a bare client makes the same 2,203 GETs against a fresh
sandbox (one ``httpx.Client`` pooling as many connections as threads, a thread pool of the same parallelism, each
body parsed as JSON, nothing else: the pipeline pages in turn, then the action lists, each action's GET
as soon as its list is in), and the script prints plan's wall time and CPU per request over the bare
client's. Figures (shared 2-core machine, best of three runs each): p8 wall 6.70 s beside 6.40 s =
1.05x, CPU 0.92 beside 0.75 ms per request; p32 wall 2.24 s beside 3.04 s = 0.74x, CPU 0.72 beside
0.95 ms (one shared pool costs the bare client more as the threads grow).

The sandbox runs in a separate process (``reconcile sandbox``) so that its work does not share the
benchmark's interpreter lock. For each parallelism the script prints the wall time, the floor, their
ratio, the client's CPU per request (user + sys of this process, ``time.process_time``, over the
requests the sandbox served) and the requests by method. The floor:

* plan: necessary requests x latency / parallelism, where the necessary requests are SPEC.md's
  count: the pipeline-list pages, one action-list page per declared pipeline, one GET per declared
  live action;
* apply: the creates start from empty pipelines, so the floor is the larger of one pipeline's chain
  of creates (they must be sequential) and all requests x latency / parallelism.

With ``--rate-limit`` the sandbox's budget is set first (``POST /__sandbox/rate-limit``) and the
script also prints how many requests were answered 429 (sandbox stats), their share, the client's
notices, and the budget's own floor (requests / limit x window).

Figures (2-core machine shared with other work, one run each; wall times are noisy, CPU less so),
200 pipelines x 10 actions, 20 ms latency. "Landed" is the code before this round of work (1ceb897,
no pacing), "now" the current client (shape checks, deadlines, redaction, connection lanes, pacing).
CPU per request is the whole benchmark process's user + sys (config generation and loading included)
over the requests served, for both; "now" also gives this script's in-run figure in brackets:

| run                        | landed: wall / floor, CPU per request | now: wall / floor, CPU per request      |
|----------------------------|---------------------------------------|-----------------------------------------|
| plan, parallelism 8        | 6.00 s / 5.51 s = 1.09x, 0.74 ms      | 5.87 s / 5.51 s = 1.07x, 0.73 (0.54) ms |
| plan, parallelism 32       | 1.63 s / 1.38 s = 1.19x, 0.70 ms      | 1.64 s / 1.38 s = 1.19x, 0.73 (0.55) ms |
| apply, parallelism 8       | 5.90 s / 5.51 s = 1.07x, 0.64 ms      | 6.69 s / 6.01 s = 1.11x, 0.77 (0.60) ms |
| apply, parallelism 32      | 1.79 s / 1.38 s = 1.30x, 0.67 ms      | 2.12 s / 1.50 s = 1.41x, 0.73 (0.56) ms |
| plan, 300 per 5 s, par. 8  | 41.3 s, 56 of 2,259 answered 429 (2.5%) | 41.4 s, 0 answered 429 (0%), 7 notices |
| plan, 300 per 5 s, par. 32 | 36.8 s, 224 of 2,427 answered 429 (9.2%) | 41.4 s, 0 answered 429 (0%), 7 notices |

Apply now makes 2,403 requests: after the creates it reads every pipeline it touched once more (its
check for duplicates left by another apply), so its floor is higher. Under the budget the floor is
2,203 / 300 x 5 s = 36.7 s; the rest is waiting for resets that the API rounds up to whole seconds.
The client's time went to httpx's shared connection pool (a scan of every connection per checkout,
growing with the parallelism), request building and cookie handling, and the hand-offs of finished
requests to the planning thread; connection lanes (one keep-alive connection each), page queries
built as strings, one TLS context per client and fewer lock takes per attempt paid for the checks the
client gained (shapes, deadlines, redaction): measured against the hardened client before them, the
in-run CPU per request fell from 0.56-0.68 ms to 0.46-0.48 ms.
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
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from reconciler import engine
from reconciler.buddy.client import BuddyClient, ClientSettings
from reconciler.buddy.pages import PER_PAGE
from reconciler.config.build import load_config
from reconciler.plan.diff import Options
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


def control(url: str, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = httpx.request(method, f"{url}{path}", json=body, timeout=10)
    return response.json() if response.content else {}  # type: ignore[no-any-return]


def necessary_requests(mode: str, pipelines: int, actions: int) -> int:
    """SPEC.md's count: the pipeline-list pages, one action-list page per pipeline, then one GET per
    live action (plan) or one POST per create (apply, from empty pipelines); apply then reads every
    pipeline it touched once more (its check for duplicates left by another apply)."""
    count = pipelines // PER_PAGE + 1 + pipelines + pipelines * actions
    return count + pipelines if mode == "apply" else count


def bare_plan_reads(url: str, parallelism: int) -> int:
    """The yardstick for plan: the same GETs a plan of the generated config makes, by one
    ``httpx.Client`` (as many pooled connections as threads) and a thread pool, each body parsed as JSON and
    nothing else: the pipeline-list pages in turn, then every pipeline's action list, and each
    action's GET as soon as its list is in. Returns the number of requests made."""
    project = "/workspaces/acme/projects/scale"
    limits = httpx.Limits(max_connections=parallelism, max_keepalive_connections=parallelism)
    headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}", "Accept": "application/json"}
    with (
        httpx.Client(base_url=url, headers=headers, limits=limits, timeout=30) as http,
        ThreadPoolExecutor(max_workers=parallelism) as pool,
    ):

        def get(path: str) -> Any:
            return json.loads(http.get(path).content)

        pipelines: list[dict[str, Any]] = []
        page, made = 1, 0
        while True:
            items = get(f"{project}/pipelines?page={page}&per_page={PER_PAGE}&sort_by=id&sort_direction=ASC")
            made += 1
            pipelines += items["pipelines"]
            if len(items["pipelines"]) < PER_PAGE:
                break
            page += 1
        lists = [
            (p["id"], pool.submit(get, f"{project}/pipelines/{p['id']}/actions?page=1&per_page={PER_PAGE}"))
            for p in pipelines
        ]
        gets: list[Future[Any]] = []
        for pipeline_id, listed in lists:
            for action in listed.result()["actions"]:
                gets.append(pool.submit(get, f"{project}/pipelines/{pipeline_id}/actions/{action['id']}"))
        for done in gets:
            done.result()
        return made + len(lists) + len(gets)


def run_bare(args: argparse.Namespace, seed: Path, parallelism: int) -> tuple[float, float]:
    """The bare client's wall time and CPU per request (ms) against a fresh sandbox."""
    proc, url = start_sandbox(seed, args.latency_ms)
    try:
        control(url, "POST", "/__sandbox/switches", {"per_page_max": args.per_page_max})
        control(url, "POST", "/__sandbox/stats/reset")
        cpu0, started = time.process_time(), time.perf_counter()
        made = bare_plan_reads(url, parallelism)
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu0
        served = control(url, "GET", "/__sandbox/stats")["total"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert served == made, (served, made)
    return wall, cpu * 1000 / served


def run_once(
    args: argparse.Namespace, config: Path, desired: list[Any], seed: Path, parallelism: int
) -> tuple[float, float]:
    """One plan or apply against a fresh sandbox; prints one line of figures and returns the wall
    time and the client CPU per request (ms)."""
    latency = args.latency_ms / 1000
    notices: list[str] = []
    proc, url = start_sandbox(seed, args.latency_ms)
    try:
        if args.rate_limit:
            control(url, "POST", "/__sandbox/rate-limit", {"limit": args.rate_limit, "window_s": args.rate_window})
        control(url, "POST", "/__sandbox/switches", {"per_page_max": args.per_page_max})
        with BuddyClient(url, DEFAULT_TOKEN, ClientSettings(parallelism=parallelism), notice=notices.append) as client:
            control(url, "POST", "/__sandbox/stats/reset")
            cpu0, started = time.process_time(), time.perf_counter()
            if args.mode == "plan":
                made = engine.build_plan(client, desired, Options())
                assert made.summary["update"] == args.pipelines, made.summary
            else:
                made, report = engine.apply(engine.given(client), [config], Options())
                assert report.ok and made.summary["create"] == args.pipelines * args.actions
            wall = time.perf_counter() - started
            cpu = time.process_time() - cpu0
            stats = control(url, "GET", "/__sandbox/stats")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    served = stats["total"]
    necessary = necessary_requests(args.mode, args.pipelines, args.actions)
    floor = necessary * latency / parallelism
    if args.mode == "apply":  # one pipeline's creates are a sequential chain
        floor = max(args.actions * latency, floor)
    line = (
        f"{args.mode} {args.pipelines}x{args.actions} @{args.latency_ms:g}ms p{parallelism} "
        f"pages<={args.per_page_max}: "
        f"wall {wall:.2f} s, floor {floor:.2f} s, ratio {wall / floor:.2f}, "
        f"client CPU {cpu * 1000 / served:.2f} ms/request ({cpu:.2f} s), "
        f"requests {served} (necessary {necessary}) {stats['by_method']}"
    )
    if args.rate_limit:
        limited = stats["rate_limited"]
        line += (
            f"\n  budget {args.rate_limit}/{args.rate_window:g}s: {limited} answered 429 "
            f"({100 * limited / served:.2f}%), {len(notices)} notices, "
            f"budget floor {served / args.rate_limit * args.rate_window:.1f} s"
            + (f", first: {notices[0]!r}" if notices else "")
        )
    print(line)
    sys.stdout.flush()
    return wall, cpu * 1000 / served


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["plan", "apply"])
    parser.add_argument("--pipelines", type=int, default=200)
    parser.add_argument("--actions", type=int, default=10)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--parallelism", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--rate-limit", type=int, default=0, help="the API's budget: requests per --rate-window")
    parser.add_argument("--rate-window", type=float, default=5.0, help="seconds (default 5)")
    parser.add_argument(
        "--per-page-max", type=int, default=100, help="the largest page the sandbox serves (default 100)"
    )
    parser.add_argument(
        "--bare",
        action="store_true",
        help="plan only: also time a bare httpx client making the same GETs and print the ratios",
    )
    args = parser.parse_args()
    if args.bare and (args.mode != "plan" or args.rate_limit):
        parser.error("--bare is a yardstick for plan without --rate-limit")

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config, seed = write_files(folder, args.pipelines, args.actions, live_actions=args.mode == "plan")
        desired = load_config([config]).pipelines
        for parallelism in args.parallelism:
            wall, cpu = run_once(args, config, desired, seed, parallelism)
            if args.bare:
                bare_wall, bare_cpu = run_bare(args, seed, parallelism)
                print(
                    f"  bare httpx p{parallelism}: wall {bare_wall:.2f} s, CPU {bare_cpu:.2f} ms/request; "
                    f"plan / bare: wall {wall / bare_wall:.2f}x, CPU per request {cpu / bare_cpu:.2f}x"
                )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
