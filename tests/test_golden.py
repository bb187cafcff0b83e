"""Golden plan cases, as data: tests/cases/plan/<case>/{config.yaml, live.json, plan.json}.

Each case seeds the sandbox with ``live.json``, plans ``config.yaml`` against it over real HTTP and
compares the JSON plan (as ``--format json`` prints it, without the target's port) with
``plan.json``. An optional ``options.json`` gives plan options (``prune``, ``update_secrets``,
``env``), ``expect_requests`` (requests by method) and ``expect_routes`` (requests by route, as the
sandbox's stats name them; 0 for a route never asked). To write a new case's ``plan.json``, run
``RECONCILE_WRITE_GOLDEN=1 pytest tests/test_golden.py`` and review the file before committing it.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from support import served

from reconciler import engine, render
from reconciler.plan.diff import Options

CASES = Path(__file__).parent / "cases" / "plan"


def comparable(plan_json: dict[str, Any]) -> dict[str, Any]:
    """The plan without what changes from run to run (the sandbox's port, fingerprint hashes)."""
    data = dict(plan_json)
    data.pop("target")
    data["fingerprints"] = sorted(data["fingerprints"])
    return data


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_the_plan_matches_the_golden_case(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = CASES / case
    monkeypatch.chdir(folder)  # messages name the file as the user wrote it: config.yaml
    options = json.loads((folder / "options.json").read_text()) if (folder / "options.json").exists() else {}
    expected_requests = options.pop("expect_requests", None)
    expected_routes = options.pop("expect_routes", {})
    seed = json.loads((folder / "live.json").read_text())
    with served(seed) as (app, client):
        made = engine.plan(engine.given(client), ["config.yaml"], Options(**options))
        stats = app.stats()
        requests, routes = stats["by_method"], stats["by_route"]
    out = io.StringIO()
    render.write_json(made, out)
    actual = comparable(json.loads(out.getvalue()))
    golden = folder / "plan.json"
    if os.environ.get("RECONCILE_WRITE_GOLDEN"):
        golden.write_text(json.dumps(actual, indent=2) + "\n")
    assert actual == json.loads(golden.read_text())
    if expected_requests is not None:
        assert requests == expected_requests
    assert {route: routes.get(route, 0) for route in expected_routes} == expected_routes
    for secret in options.get("env", {}).values():
        assert secret not in out.getvalue()
