"""Apply one configuration against the sandbox under each fault until it converges; print a table.

    python scripts/fault_matrix.py [--max-runs N]

For each fault: how many applies it took until one exited 0 and a plan was empty (faults cleared
only for that final plan), and how many duplicate multi-arch actions were left (must be 0). The
held writes of ``late_commit`` are given time to land between runs, as minutes would in CI.
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from reconciler import engine
from reconciler.apply import ApplyOptions, Looks
from reconciler.buddy.client import BuddyClient, ClientSettings, RetryPolicy
from reconciler.plan.diff import Options
from reconciler.sandbox import DEFAULT_TOKEN, FaultRule, SandboxApp, SandboxServer, SandboxState

MA = "DOCKER_BUILD_MULTI_ARCH"
ACTION = "      - {{name: Build {pipeline} {i}, type: DOCKER_BUILD_MULTI_ARCH, dockerfile_path: d{i}/Dockerfile}}\n"
CONFIG = "workspace: acme\nproject: web\npipelines:\n" + "".join(
    f"  - name: {pipeline}\n    actions:\n" + "".join(ACTION.format(pipeline=pipeline, i=i) for i in range(4))
    for pipeline in ("Release", "Nightly")
)
SEED: dict[str, Any] = {
    "workspaces": {
        "acme": {
            "projects": {
                "web": {
                    "pipelines": [
                        {"id": 7, "name": "Release", "actions": [{"id": 40, "name": "Run tests", "type": "BUILD"}]},
                        {"id": 8, "name": "Nightly", "actions": []},
                    ]
                }
            }
        }
    }
}
FAULTS: list[tuple[str, dict[str, Any], float]] = [  # name, rule, client timeout
    ("latency 50 ms ±50", {"kind": "latency", "ms": 50, "jitter_ms": 50}, 5.0),
    ("5xx on 30% of requests", {"kind": "error", "status": 503, "rate": 0.3}, 5.0),
    ("429 storm (10 in a row)", {"kind": "rate_limit", "count": 10, "retry_after": 0}, 5.0),
    ("429 on 30% of requests", {"kind": "rate_limit", "rate": 0.3, "retry_after": 0}, 5.0),
    ("dropped connections, 30%", {"kind": "drop", "rate": 0.3}, 5.0),
    ("commit then 500, POSTs", {"kind": "commit_then_error", "methods": ["POST"], "count": 4}, 5.0),
    ("commit then drop, POSTs", {"kind": "commit_then_drop", "methods": ["POST"], "count": 4}, 5.0),
    ("commit then drop, all writes 30%", {"kind": "commit_then_drop", "rate": 0.3}, 5.0),
    ("late commit 600 ms, timeout 200 ms", {"kind": "late_commit", "ms": 600, "methods": ["POST"], "count": 3}, 0.2),
]


def duplicates(app: SandboxApp) -> int:
    left = 0
    for _ws, _pr, live in app.state.iter_pipelines():
        counts = Counter(a.name for a in live.actions if a.type == MA)
        left += sum(n - 1 for n in counts.values())
    return left


def converge(rule: dict[str, Any], timeout: float, config: Path, max_runs: int) -> tuple[int | None, int]:
    app = SandboxApp(SandboxState.from_data(copy.deepcopy(SEED)))
    app.set_faults(FaultRule.from_dict(rule), seed=7)
    retry = RetryPolicy(attempts=6, base_delay=0.001, max_delay=0.01, max_wait=5.0, min_wait=0.001)
    options = Options()
    with (
        SandboxServer(app, poll_interval=0.005) as server,
        BuddyClient(server.url, DEFAULT_TOKEN, ClientSettings(timeout=timeout, retry=retry)) as client,
    ):
        for run in range(1, max_runs + 1):
            try:
                _plan, report = engine.apply(
                    engine.given(client), [config], options, ApplyOptions(looks=Looks(delays=(0.0, 0.1, 0.2)))
                )
                ok = report.ok
            except Exception as exc:  # a plan that could not be read under the fault: try again
                print(f"    run {run}: {type(exc).__name__}: {exc}", file=sys.stderr)
                ok = False
            time.sleep(rule.get("ms", 0) / 1000 + 0.1)  # let held writes land, as time would between runs
            if ok:
                app.clear_faults()
                if not engine.plan(engine.given(client), [config], options).has_changes:
                    return run, duplicates(app)
                app.set_faults(FaultRule.from_dict(rule), seed=run)
        return None, duplicates(app)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "web.yml"
        config.write_text(CONFIG)
        print("| fault | runs to converge | duplicates left |")
        print("|---|---|---|")
        failed = False
        for name, rule, timeout in FAULTS:
            runs, left = converge(rule, timeout, config, args.max_runs)
            failed = failed or runs is None or left != 0
            print(f"| {name} | {runs if runs is not None else 'did not converge'} | {left} |", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
