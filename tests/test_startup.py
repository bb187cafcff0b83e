"""`reconcile validate` runs as a pre-commit hook on every commit: it starts without the libraries only
the commands that talk to Buddy need (httpx and its stack, rich, deepdiff) and without the plan's own
modules. Checked on the modules a real child process imports (``-X importtime`` names each one), never
on a wall time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: what validate must not load: the HTTP client's stack, the terminal renderer, the structural differ
HEAVY = ("httpx", "httpcore", "h11", "anyio", "certifi", "ssl", "rich", "deepdiff")

BROKEN = """\
workspace: acme
project: web
pipelines:
  - name: Release
    actions:
      - name: Build
        type: DOCKER_BUILD_MULTI_ARCH
        cache_mode: max
"""


def modules(*argv: str) -> tuple[int, set[str]]:
    """The exit code of ``python -X importtime ARGV`` and the full name of every module it imported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BUDDY_", "PYTHON"))}
    run = subprocess.run(
        [sys.executable, "-X", "importtime", *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    names = set()
    for line in run.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            names.add(line.rsplit("|", 1)[1].strip())
    assert "reconciler" in names, run.stderr[-2000:]
    return run.returncode, names


def imported(*argv: str) -> tuple[int, set[str]]:
    """The exit code of ``python -X importtime ARGV`` and the top-level packages of every module it imported."""
    code, names = modules(*argv)
    return code, {name.split(".")[0].lstrip("_") for name in names}


def plan_modules(names: set[str]) -> list[str]:
    return sorted(name for name in names if name == "reconciler.plan" or name.startswith("reconciler.plan."))


def test_the_import_list_names_httpx_when_the_client_is_imported() -> None:
    _code, names = imported("-c", "import reconciler.buddy.client")
    assert {"httpx", "ssl"} <= names


def test_validate_of_the_examples_loads_no_http_client_no_rich_and_no_deepdiff() -> None:
    code, names = imported("-m", "reconciler", "validate", "examples")
    assert code == 0
    assert {"yaml", "jsonschema"} <= names
    assert sorted(names.intersection(HEAVY)) == []


@pytest.mark.parametrize("fmt", ["text", "json", "github"])
def test_validate_that_reports_problems_loads_none_of_them_either(tmp_path: Path, fmt: str) -> None:
    (tmp_path / "web.yml").write_text(BROKEN, encoding="utf-8")
    code, names = imported("-m", "reconciler", "validate", "--format", fmt, str(tmp_path))
    assert code == 1
    assert sorted(names.intersection(HEAVY)) == []


def test_the_import_list_names_the_plan_modules_when_plan_s_options_are_read() -> None:
    _code, names = modules(
        "-c", "import reconciler.cli.args as a; a.plan_options(a.build_parser().parse_args(['plan']))"
    )
    assert "reconciler.plan.options" in plan_modules(names)


@pytest.mark.parametrize("argv", [["examples"], ["--format", "github", "examples"]])
def test_validate_loads_no_plan_module_and_not_the_plan_renderer(argv: list[str]) -> None:
    code, names = modules("-m", "reconciler", "validate", *argv)
    assert code == 0
    assert "reconciler.config.schema" in names
    assert plan_modules(names) == []
    assert sorted(names & {"reconciler.render", "reconciler.cli.console"}) == []


def test_validate_that_reports_problems_loads_no_plan_module_either(tmp_path: Path) -> None:
    (tmp_path / "web.yml").write_text(BROKEN, encoding="utf-8")
    code, names = modules("-m", "reconciler", "validate", str(tmp_path))
    assert code == 1
    assert plan_modules(names) == []
