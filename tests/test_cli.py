"""The command line as users meet it: version, help, usage errors, exit codes, output formats."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import pytest

from reconciler import __version__
from reconciler.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
COMMANDS = ["validate", "plan", "apply", "import", "schema", "sandbox"]

INVALID = """\
workspace: acme
project: web
pipelines:
  - name: Release images
    actions:
      - name: Build app image
        type: DOCKER_BUILD_MULTI_ARCH
        cache_mode: HUGE
"""
OLD_SPELLING = """\
workspace: acme
project: web
pipelines:
  - name: Release images
    actions:
      - name: Build app image
        type: DOCKER_BUILD_MULTI_ARCH
        target_platform: [linux/amd64, linux/arm64]
"""


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temp directory holding a copy of examples/, as the current directory, with no token or secret."""
    shutil.copytree(EXAMPLES, tmp_path / "examples", ignore=shutil.ignore_patterns(".reconcile-*", "plan.*"))
    for name in ("BUDDY_TOKEN", "BUDDY_BASE_URL", "DOCKERHUB_USER", "DOCKERHUB_TOKEN", "GHCR_USER", "GHCR_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- version and help --------------------------------------------------------------------------------


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"reconcile {__version__}"


@pytest.mark.parametrize("command", COMMANDS)
def test_help_of_every_command_ends_with_an_example_that_parses(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert re.search(r"^examples?: reconcile ", text, re.M)
    examples = re.findall(r"^(?:examples?:)?\s+(reconcile .+)$", text, re.M)
    assert examples
    for example in examples:
        argv = example.split()[1:]
        argv = argv[: argv.index(">")] if ">" in argv else argv
        build_parser().parse_args(argv)


def test_the_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for command in COMMANDS:
        assert re.search(rf"^\s+{command}\s", text, re.M), command


# -- usage errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["plan", "--no-such-flag"],
        ["frobnicate"],
        ["schema", "everything"],
        ["import", "--project", "web"],
        ["plan", "--format", "yaml"],
        ["plan", "--parallelism", "many"],
    ],
    ids=["unknown flag", "unknown command", "bad choice", "missing required", "bad format", "not a number"],
)
def test_a_usage_error_exits_1_with_a_pointer_to_help_and_no_traceback(argv: list[str]) -> None:
    code, out, err = run(*argv)
    assert code == 1
    assert err.startswith("error: reconcile") and "--help" in err
    assert "Traceback" not in err + out


def test_no_command_prints_the_help_and_exits_1() -> None:
    code, _, err = run()
    assert code == 1
    assert "COMMAND" in err


def test_plan_without_a_token_says_which_scopes_to_get(workdir: Path) -> None:
    code, _, err = run("plan", "examples")
    assert code == 1
    assert "BUDDY_TOKEN is not set" in err
    assert "WORKSPACE" in err and "EXECUTION_INFO" in err and "EXECUTION_MANAGE" in err


def test_plain_http_to_a_remote_host_is_refused_before_any_request(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BUDDY_TOKEN", "tok-never-shown-3141")
    code, out, err = run("plan", "examples", "--base-url", "http://buddy.example.com")
    assert code == 1
    assert "plain http" in err
    assert "tok-never-shown-3141" not in out + err


# -- schema ------------------------------------------------------------------------------------------


def test_schema_action_prints_the_shipped_action_schema() -> None:
    code, out, _ = run("schema", "action")
    assert code == 0
    assert json.loads(out) == json.loads((ROOT / "schemas" / "action.schema.json").read_text(encoding="utf-8"))


def test_schema_config_prints_one_self_contained_schema_that_checks_the_examples() -> None:
    import jsonschema
    import yaml

    code, out, _ = run("schema", "config")
    assert code == 0 and "action.schema.json" not in out
    printed = json.loads(out)
    assert printed["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    validator = jsonschema.Draft202012Validator(printed)
    for path in sorted((ROOT / "examples" / "acme").glob("*.yml")):
        assert list(validator.iter_errors(yaml.safe_load(path.read_text()))) == []
    bad = {
        "workspace": "a",
        "project": "b",
        "pipelines": [
            {
                "name": "p",
                "actions": [
                    {"name": "x", "type": "DOCKER_BUILD_MULTI_ARCH", "cache_mode": "HUGE", "secrets": [{"id": 1}]}
                ],
            }
        ],
    }
    assert len(list(validator.iter_errors(bad))) == 2


def test_schema_without_an_argument_prints_the_config_schema() -> None:
    assert run("schema")[1] == run("schema", "config")[1]


# -- validate ----------------------------------------------------------------------------------------


def test_validate_accepts_the_examples_and_skips_the_ci_files(workdir: Path) -> None:
    code, out, err = run("validate", "examples", "-v")
    assert code == 0
    assert "3 file(s) valid" in out
    assert err.count("skipped (not a config file)") == 4


def test_validate_github_format_prints_errors_as_annotations_and_exits_1(workdir: Path) -> None:
    write(workdir / "cfg" / "web.yml", INVALID)
    code, out, _ = run("validate", "cfg", "--format", "github")
    assert code == 1
    assert "::error file=cfg/web.yml,line=8,col=21::" in out
    assert "cache_mode" in out and "HUGE" in out


def test_validate_github_format_prints_warnings_as_annotations_and_still_exits_0(workdir: Path) -> None:
    write(workdir / "cfg" / "web.yml", OLD_SPELLING)
    code, out, _ = run("validate", "cfg", "--format", "github")
    assert code == 0
    assert re.search(r"^::warning file=cfg/web\.yml,line=8,col=\d+::.*target_platform", out, re.M)


def test_validate_text_format_locates_every_problem(workdir: Path) -> None:
    write(workdir / "cfg" / "web.yml", INVALID)
    code, out, _ = run("validate", "cfg")
    assert code == 1
    assert "cfg/web.yml:8:21: $.pipelines[0].actions[0].cache_mode:" in out


def test_validate_quiet_prints_nothing_for_valid_files(workdir: Path) -> None:
    assert run("validate", "examples", "-q") == (0, "", "")


# -- plan and apply exit codes in the sandbox --------------------------------------------------------


def test_plan_detailed_exitcode_is_2_with_changes_then_0_after_apply(workdir: Path) -> None:
    assert run("plan", "examples", "--sandbox", "--detailed-exitcode")[0] == 2
    assert (workdir / ".reconcile-sandbox.json").is_file()  # the state lands in the current directory
    code, out, _ = run("apply", "examples", "--sandbox")
    assert code == 0
    assert "Apply complete" in out
    code, out, _ = run("plan", "examples", "--sandbox", "--detailed-exitcode")
    assert code == 0
    assert "No changes" in out


def test_plan_without_detailed_exitcode_exits_0_even_with_changes(workdir: Path) -> None:
    code, out, _ = run("plan", "examples", "--sandbox")
    assert code == 0
    assert "to create" in out


def test_plan_detailed_exitcode_is_1_on_an_invalid_file(workdir: Path) -> None:
    write(workdir / "cfg" / "web.yml", INVALID)
    code, _, err = run("plan", "cfg", "--sandbox", "--detailed-exitcode")
    assert code == 1
    assert "cfg/web.yml:8:21" in err


def test_plan_detailed_exitcode_is_1_when_a_pipeline_cannot_be_planned(workdir: Path) -> None:
    write(
        workdir / "cfg" / "web.yml",
        "workspace: acme\nproject: web\npipelines:\n  - name: Release images\n    actions:\n"
        "      - name: Run tests\n        type: DOCKER_BUILD_MULTI_ARCH\n",
    )
    shutil.copy(EXAMPLES / "sandbox-state.json", workdir / "cfg" / "sandbox-state.json")
    code, out, _ = run("plan", "cfg", "--sandbox", "--detailed-exitcode")
    assert code == 1
    assert "is of type BUILD" in out


def test_plan_markdown_and_json_formats_and_the_out_file(workdir: Path) -> None:
    code, out, _ = run("plan", "examples", "--sandbox", "--format", "markdown", "--out", "plans/plan.json")
    assert code == 0
    assert out.startswith("### reconcile plan")
    saved = json.loads((workdir / "plans" / "plan.json").read_text(encoding="utf-8"))
    assert saved["format_version"] == 1
    code, out, _ = run("plan", "examples", "--sandbox", "--format", "json")
    assert json.loads(out)["summary"] == saved["summary"]


def test_quiet_plan_prints_nothing_and_quiet_apply_only_errors(workdir: Path) -> None:
    assert run("plan", "examples", "--sandbox", "-q") == (0, "", "")
    code, out, err = run("apply", "examples", "--sandbox", "-q")
    assert (code, out, err) == (0, "", "")


def test_apply_plan_applies_a_plan_saved_in_the_sandbox(workdir: Path) -> None:
    run("plan", "examples", "--sandbox", "--out", "plan.json", "-q")
    assert run("apply", "--plan", "plan.json", "--sandbox", "-q")[0] == 0


def test_the_fault_examples_in_sandbox_help_are_accepted(capsys: pytest.CaptureFixture[str]) -> None:
    from reconciler.sandbox.faults import parse_fault_spec

    with pytest.raises(SystemExit):
        main(["sandbox", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    examples = re.search(r"e\.g\. (.+?) \(kinds", help_text)
    assert examples
    for spec in examples.group(1).split(" or "):
        parse_fault_spec(spec)


# -- apply: the safety check and interrupts --------------------------------------------------------

SIX_ACTIONS = {
    "workspaces": {
        "acme": {
            "projects": {
                "web": {
                    "pipelines": [
                        {
                            "id": 7,
                            "name": "Release",
                            "actions": [
                                {"id": 40, "name": "Run tests", "type": "BUILD"},
                                {"id": 41, "name": "Keep", "type": "DOCKER_BUILD_MULTI_ARCH"},
                                *(
                                    {"id": 50 + i, "name": f"Old {i}", "type": "DOCKER_BUILD_MULTI_ARCH"}
                                    for i in range(4)
                                ),
                            ],
                        }
                    ]
                }
            }
        }
    }
}
PRUNING = """\
workspace: acme
project: web
pipelines:
  - name: Release
    prune: true
    actions:
      - {name: Keep, type: DOCKER_BUILD_MULTI_ARCH, dockerfile_path: Dockerfile}
"""


def test_a_refused_apply_prints_the_plan_then_what_was_counted_and_changes_nothing(workdir: Path) -> None:
    config = write(workdir / "conf" / "web.yml", PRUNING)
    write(workdir / "conf" / "sandbox-state.json", json.dumps(SIX_ACTIONS))
    code, out, err = run("apply", str(config), "--sandbox")
    assert code == 1
    assert '- delete  "Old 0" (#50)' in out and "prune: not declared" in out  # the plan it refuses
    assert "apply would refuse this without --force" in out
    assert err.startswith("error: refusing to apply: the safety check counted\n")
    assert (
        'acme/web pipeline "Release": 6 live actions (of any type); 4 deletes, over the limit of 30%; '
        "1 update (not limited under 10 live actions)"
    ) in err
    assert "Nothing was changed" in err
    state = json.loads((workdir / ".reconcile-sandbox.json").read_text())
    live = state["workspaces"]["acme"]["projects"]["web"]["pipelines"][0]["actions"]
    assert len(live) == 6 and "dockerfile_path" not in live[1]  # not even the update was made

    code, out, _err = run("plan", str(config), "--sandbox", "--max-delete-percent", "70")
    assert code == 0 and "would refuse" not in out
    code, out, _err = run("apply", str(config), "--sandbox", "--force")
    assert code == 0
    assert "warning: the safety check was skipped (--force); it would refuse: " in out
    assert "Apply complete: 5 applied" in out


@pytest.mark.parametrize("bad", ["101", "-1", "ten"])
def test_the_safety_limits_are_whole_percentages(bad: str) -> None:
    code, _out, err = run("plan", "--max-delete-percent", bad)
    assert code == 1 and "--max-delete-percent" in err


MANY_CREATES = "workspace: acme\nproject: web\npipelines:\n  - name: Release\n    actions:\n" + "".join(
    f"      - {{name: Build {i}, type: DOCKER_BUILD_MULTI_ARCH, dockerfile_path: d{i}/Dockerfile}}\n" for i in range(8)
)


def test_sigint_stops_a_running_apply_with_a_partial_report_and_exit_130_and_a_rerun_converges(
    tmp_path: Path,
) -> None:
    import os
    import signal
    import subprocess
    import sys
    import threading

    from reconciler.sandbox import DEFAULT_TOKEN, SandboxApp, SandboxServer, SandboxState

    seed = {"workspaces": {"acme": {"projects": {"web": {"pipelines": [{"id": 7, "name": "Release"}]}}}}}
    app = SandboxApp(SandboxState.from_data(seed))
    app.set_faults({"kind": "latency", "ms": 150, "methods": ["POST"]})  # each create takes a while
    config = write(tmp_path / "web.yml", MANY_CREATES)
    with SandboxServer(app, poll_interval=0.005) as server:
        env = {**os.environ, "BUDDY_BASE_URL": server.url, "BUDDY_TOKEN": DEFAULT_TOKEN, "NO_COLOR": "1"}
        command = [sys.executable, "-m", "reconciler", "apply", str(config), "--parallelism", "1"]
        proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        watchdog = threading.Timer(30, proc.kill)
        watchdog.start()
        try:
            assert proc.stderr is not None
            seen = []
            for line in proc.stderr:
                seen.append(line)
                if line.startswith("applied: "):
                    proc.send_signal(signal.SIGINT)
                    break
            out, rest = proc.communicate()
        finally:
            watchdog.cancel()
        err = "".join(seen) + rest
        assert proc.returncode == 130, err
        assert "SIGINT: stopping: no new change is started" in err
        assert "Apply interrupted:" in out and "not tried" in out
        assert "not started: the apply was interrupted" in out
        made = [a.name for a in app.state.pipeline("acme", "web", 7).actions]
        assert 1 <= len(made) < 8

        app.clear_faults()
        again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=30)
        assert again.returncode == 0, again.stderr
        assert [a.name for a in app.state.pipeline("acme", "web", 7).actions] == [f"Build {i}" for i in range(8)]
