"""The command line as users meet it: version, help, usage errors, exit codes, output formats."""

from __future__ import annotations

import argparse
import fcntl
import io
import json
import os
import re
import select
import shutil
import struct
import subprocess
import sys
import termios
from pathlib import Path
from typing import Any

import pytest

from reconciler import __version__
from reconciler.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

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


# -- version and usage errors (help and options: test_cliargs.py) ----------------------------------


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"reconcile {__version__}"


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
    assert "4 file(s) valid" in out  # three configs and a defaults file
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


def test_plan_detailed_exitcode_is_2_when_only_a_pipeline_setting_differs(workdir: Path) -> None:
    assert run("apply", "examples", "--sandbox")[0] == 0
    web = workdir / "examples" / "acme" / "web.yml"
    web.write_text(web.read_text(encoding="utf-8").replace("priority: LOW", "priority: HIGH"), encoding="utf-8")
    code, out, _ = run("plan", "examples", "--sandbox", "--detailed-exitcode")
    assert code == 2
    assert '~ update pipeline "Nightly builds" (#8)' in out and "LOW -> HIGH" in out
    assert "Plan: 0 to create, 0 to update, 0 to delete in 1 pipeline (1 with pipeline settings to update)." in out


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


@pytest.mark.parametrize(
    ("seed", "said"),
    [
        ("/dev/zero", "a character device, not a regular file"),
        ("fifo", "a FIFO, not a regular file"),
        ("examples", "a directory, not a regular file"),
        ("loop", "a symlink loop (the link never reaches a file)"),
        ("nope.json", "no such file or directory"),
    ],
)
def test_a_sandbox_seed_that_is_not_a_file_is_named_for_what_it_is(workdir: Path, seed: str, said: str) -> None:
    os.mkfifo(workdir / "fifo")
    (workdir / "loop").symlink_to(workdir / "loop")
    code, out, err = run("plan", "examples", "--sandbox", "--sandbox-seed", seed)
    assert code == 1 and out == ""
    assert err == f"error: --sandbox-seed {seed}: {said}\n"


def test_a_sandbox_state_file_that_is_a_symlink_loop_is_refused_not_replaced(workdir: Path) -> None:
    (workdir / "loop").symlink_to(workdir / "loop")
    code, _, err = run("plan", "examples", "--sandbox", "--sandbox-state", "loop")
    assert code == 1 and "--sandbox-state loop: a symlink loop" in err
    assert (workdir / "loop").is_symlink()


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


# -- apply as a person watches it (in process) --------------------------------------------------------


class Terminal(io.StringIO):
    """Input that says it is a terminal, holding what the person types."""

    def isatty(self) -> bool:
        return True


def test_apply_off_a_terminal_never_asks(workdir: Path) -> None:
    code, out, err = run("apply", "examples", "--sandbox")
    assert code == 0
    assert "Do you want to perform these actions?" not in out
    assert "Applying 8 changes:" in err and "[8/8] " in err  # one line per change, on stderr


def test_apply_on_a_terminal_that_answers_no_changes_nothing(workdir: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = main(["apply", "examples", "--sandbox"], out=out, err=err, inp=Terminal("no\n"))
    assert code == 1
    text = out.getvalue()
    assert text.index("Plan: 3 to create") < text.index("Do you want to perform these actions?")
    assert text.rstrip().endswith("Apply cancelled.")
    assert "[1/" not in err.getvalue()
    assert run("plan", "examples", "--sandbox", "--detailed-exitcode")[0] == 2  # still pending


def test_apply_on_a_terminal_with_no_changes_does_not_ask(workdir: Path) -> None:
    run("apply", "examples", "--sandbox", "-q")
    out = io.StringIO()
    assert main(["apply", "examples", "--sandbox"], out=out, err=io.StringIO(), inp=Terminal("")) == 0
    assert "Do you want" not in out.getvalue() and "Apply complete: nothing to do." in out.getvalue()


def test_quiet_apply_on_a_terminal_still_shows_the_plan_it_asks_about(workdir: Path) -> None:
    out = io.StringIO()
    assert main(["apply", "examples", "--sandbox", "-q"], out=out, err=io.StringIO(), inp=Terminal("yes\n")) == 0
    assert "Plan: 3 to create" in out.getvalue()
    assert "Apply complete" not in out.getvalue()  # quiet: no summary when all went well


class WritesSeen(io.StringIO):
    """stdout that notes, at each flush, what it holds and how many writes the sandbox has seen."""

    def __init__(self, app: Any) -> None:
        super().__init__()
        self.app = app
        self.flushes: list[tuple[str, int]] = []

    def flush(self) -> None:
        by_method = self.app.stats()["by_method"]
        writes = sum(by_method.get(m, 0) for m in ("POST", "PATCH", "DELETE"))
        self.flushes.append((self.getvalue(), writes))


def test_apply_flushes_the_whole_plan_before_its_first_write(
    workdir: Path, sandbox_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(workdir / "cfg" / "web.yml", NEW_ACTION)
    monkeypatch.setenv("BUDDY_TOKEN", sandbox_server.token)
    out = WritesSeen(sandbox_server.app)
    code = main(["apply", "cfg", "--base-url", sandbox_server.url], out=out, err=io.StringIO(), inp=io.StringIO())
    assert code == 0
    before_writes = [text for text, writes in out.flushes if writes == 0]
    assert before_writes and "Plan: 1 to create" in before_writes[-1]
    assert "Apply complete: 1 applied." in out.getvalue()


NEW_ACTION = """\
workspace: acme
project: web
pipelines:
  - name: Release images
    actions:
      - name: Build app image
        type: DOCKER_BUILD_MULTI_ARCH
        dockerfile_path: Dockerfile
      - name: Build edge image
        type: DOCKER_BUILD_MULTI_ARCH
        dockerfile_path: Dockerfile.edge
"""


# -- apply as a person watches it (a real process on a pseudo-terminal, and in CI) --------------------

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
#: a bound on how long a child may stay silent before the test gives up (a hang, not a timing test)
SILENCE_S = 60


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BUDDY_", "DOCKERHUB_", "GHCR_"))}
    for name in ("NO_COLOR", "PYTHONUNBUFFERED"):  # buffered output, as a CI job has it
        env.pop(name, None)
    # a hang in a test shows where the child stood (see _silent)
    env.update({"TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40", "PYTHONFAULTHANDLER": "1"}, **extra)
    return env


def run_on_a_terminal(argv: list[str], cwd: Path, answer: str | None = None) -> tuple[int, str]:
    """Run ``reconcile ARGV`` with stdin, stdout and stderr on a pseudo-terminal; type ``answer``
    when the question appears. Returns the exit code and everything the terminal showed."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    child = subprocess.Popen(
        [sys.executable, "-m", "reconciler", *argv], stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=child_env()
    )
    os.close(slave)
    seen = b""
    try:
        while True:
            ready, _, _ = select.select([master], [], [], SILENCE_S)
            assert ready, f"the child said nothing for {SILENCE_S} s:\n{seen.decode(errors='replace')}"
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child has closed the terminal
                break
            if not chunk:
                break
            seen += chunk
            if answer is not None and b"Enter a value:" in seen:
                os.write(master, answer.encode() + b"\n")
                answer = None
        code = child.wait(timeout=SILENCE_S)
    finally:
        os.close(master)
        if child.poll() is None:
            child.kill()
    return code, ANSI.sub("", seen.decode(errors="replace")).replace("\r\n", "\n")


def test_on_a_terminal_no_changes_nothing(workdir: Path) -> None:
    code, shown = run_on_a_terminal(["apply", "examples", "--sandbox"], workdir, answer="no")
    assert code == 1
    assert shown.index("Plan: 3 to create") < shown.index("Only 'yes' will be accepted to approve.")
    assert shown.rstrip().endswith("Apply cancelled.")
    assert run("plan", "examples", "--sandbox", "--detailed-exitcode")[0] == 2  # nothing was changed


def test_on_a_terminal_yes_applies(workdir: Path) -> None:
    code, shown = run_on_a_terminal(["apply", "examples", "--sandbox"], workdir, answer="yes")
    assert code == 0
    assert shown.index("Enter a value: yes") < shown.index('created "Build app image"')
    assert "Apply complete: 8 applied." in shown
    assert run("plan", "examples", "--sandbox", "--detailed-exitcode")[0] == 0


def test_on_a_terminal_auto_approve_never_asks(workdir: Path) -> None:
    code, shown = run_on_a_terminal(["apply", "examples", "--sandbox", "--auto-approve"], workdir)
    assert code == 0
    assert "Do you want" not in shown and "Apply complete: 8 applied." in shown


def test_on_a_terminal_apply_of_a_saved_plan_asks_too(workdir: Path) -> None:
    run("plan", "examples", "--sandbox", "--out", "plan.json", "-q")
    code, shown = run_on_a_terminal(["apply", "--plan", "plan.json", "--sandbox"], workdir, answer="")
    assert code == 1
    assert shown.index("Plan: 3 to create") < shown.index("Do you want") < shown.index("Apply cancelled.")
    assert run("plan", "examples", "--sandbox", "--detailed-exitcode")[0] == 2


def test_in_ci_the_plan_comes_out_before_a_slow_first_write_lands(workdir: Path, sandbox_server: Any) -> None:
    """Off a terminal (stdin not a TTY, output a pipe, as in CI): no question, and the plan is on the
    pipe while the create is still held by the server; then the change's line, then the summary."""
    write(workdir / "cfg" / "web.yml", NEW_ACTION)
    sandbox_server.app.set_faults({"kind": "latency", "ms": 800, "methods": ["POST"]})
    argv = [sys.executable, "-m", "reconciler", "apply", "cfg", "--base-url", sandbox_server.url]
    env = child_env(BUDDY_TOKEN=sandbox_server.token)
    with subprocess.Popen(
        argv,
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as child:
        assert child.stdout is not None
        lines: list[str] = []
        for line in child.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("Plan: "):
                names = [a.name for a in sandbox_server.app.state.pipeline("acme", "web", 7).actions]
                assert "Build edge image" not in names  # the plan is out; the write has not landed
        code = child.wait(timeout=SILENCE_S)
    assert code == 0
    plan_at = lines.index("Plan: 1 to create, 0 to update, 0 to delete in 1 pipeline.")
    done_at = next(i for i, line in enumerate(lines) if line.startswith('[1/1] created "Build edge image"'))
    assert plan_at < done_at < lines.index("Apply complete: 1 applied.")
    assert not any("Do you want" in line for line in lines)


def test_plan_with_a_target_says_it_is_partial_in_every_format(workdir: Path) -> None:
    target = ("--target", "acme/web/Release*")
    code, out, _ = run("plan", "examples", "--sandbox", *target)
    assert code == 0 and "warning: targeted: 1 of 5 declared pipelines" in out
    assert '"Nightly builds"' not in out
    _, out, _ = run("plan", "examples", "--sandbox", *target, "--format", "markdown")
    assert ":warning: targeted: 1 of 5" in out
    _, out, _ = run("plan", "examples", "--sandbox", *target, "--format", "json")
    assert json.loads(out)["targeting"]["selected"] == 1
    _, out, _ = run("plan", "examples", "--sandbox", *target, "--format", "github")
    assert "::warning::targeted: 1 of 5" in out


def test_a_target_that_matches_nothing_exits_1_naming_it(workdir: Path) -> None:
    code, _, err = run("plan", "examples", "--sandbox", "--target", "acme/web/Relase*")
    assert code == 1 and '"acme/web/Relase*" matches no declared pipeline' in err


def test_a_saved_targeted_plan_applies_just_its_targets(workdir: Path) -> None:
    run("plan", "examples", "--sandbox", "--exclude", "acme/web/*", "--out", "plan.json", "-q")
    saved = json.loads((workdir / "plan.json").read_text(encoding="utf-8"))
    assert saved["targeting"]["excludes"] == ["acme/web/*"]
    assert run("apply", "--plan", "plan.json", "--sandbox", "-q")[0] == 0
    _, out, _ = run("plan", "examples", "--sandbox", "--format", "json")
    assert {c["project"] for c in json.loads(out)["changes"]} == {"web"}
    code, _, err = run("apply", "--plan", "plan.json", "--sandbox", "--target", "x")
    assert code == 1 and "a saved plan keeps the patterns" in err


def test_plan_github_format_puts_a_file_warning_on_its_line(workdir: Path) -> None:
    write(workdir / "cfg" / "web.yml", OLD_SPELLING)
    code, out, _ = run("plan", "cfg", "--sandbox", "--format", "github")
    assert code == 0
    assert any(line.startswith("::warning file=cfg/web.yml,line=8,col=") for line in out.splitlines()), out


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


MANY_CREATES = "workspace: acme\nproject: web\npipelines:\n  - name: Release\n    actions:\n" + "".join(
    f"      - {{name: Build {i}, type: DOCKER_BUILD_MULTI_ARCH, dockerfile_path: d{i}/Dockerfile}}\n" for i in range(8)
)


def _apply_command(config: Path, url: str) -> tuple[list[str], dict[str, str]]:
    """``reconcile apply`` of ``config`` in a child process against the sandbox at ``url``, one
    change at a time."""
    from reconciler.sandbox import DEFAULT_TOKEN

    env = {**os.environ, "BUDDY_BASE_URL": url, "BUDDY_TOKEN": DEFAULT_TOKEN, "NO_COLOR": "1"}
    return [sys.executable, "-m", "reconciler", "apply", str(config), "--parallelism", "1"], env


def _interrupted(command: list[str], env: dict[str, str], when: str, *, wait_s: float) -> tuple[int, str, str]:
    """Run ``command``, send it SIGINT as soon as a line of its stderr starts with ``when``, and
    return its exit code, stdout and stderr (killed after ``wait_s`` should it never end)."""
    import signal
    import threading

    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(wait_s, proc.kill)
    watchdog.start()
    try:
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:
            seen.append(line)
            if line.startswith(when):
                proc.send_signal(signal.SIGINT)
                break
        out, rest = proc.communicate()
    finally:
        watchdog.cancel()
    return proc.returncode, out, "".join(seen) + rest


def test_sigint_stops_a_running_apply_with_a_partial_report_and_exit_130_and_a_rerun_converges(
    tmp_path: Path,
) -> None:
    from reconciler.sandbox import SandboxApp, SandboxServer, SandboxState

    seed = {"workspaces": {"acme": {"projects": {"web": {"pipelines": [{"id": 7, "name": "Release"}]}}}}}
    app = SandboxApp(SandboxState.from_data(seed))
    app.set_faults({"kind": "latency", "ms": 150, "methods": ["POST"]})  # each create takes a while
    config = write(tmp_path / "web.yml", MANY_CREATES)
    with SandboxServer(app, poll_interval=0.005) as server:
        command, env = _apply_command(config, server.url)
        returncode, out, err = _interrupted(command, env, "[1/8] ", wait_s=30)
        assert returncode == 130, err
        assert "SIGINT: stopping: no new change is started" in err
        assert "Apply interrupted:" in out and "not tried" in out
        assert "not started: the apply was interrupted" in out
        made = [a.name for a in app.state.pipeline("acme", "web", 7).actions]
        assert 1 <= len(made) < 8

        app.clear_faults()
        again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=30)
        assert again.returncode == 0, again.stderr
        assert [a.name for a in app.state.pipeline("acme", "web", 7).actions] == [f"Build {i}" for i in range(8)]


def test_sigint_while_a_429_asks_for_minutes_stops_at_once_with_exit_130(tmp_path: Path) -> None:
    """The first Ctrl-C does not sit out a long Retry-After: the waiting create is given up (a 429:
    nothing was done), the rest is not tried, and the apply exits 130 right away."""
    from reconciler.sandbox import SandboxApp, SandboxServer, SandboxState

    seed = {"workspaces": {"acme": {"projects": {"web": {"pipelines": [{"id": 7, "name": "Release"}]}}}}}
    app = SandboxApp(SandboxState.from_data(seed))
    app.set_faults({"kind": "rate_limit", "count": 1, "retry_after": 600, "methods": ["POST"]})
    config = write(tmp_path / "web.yml", MANY_CREATES)
    with SandboxServer(app, poll_interval=0.005) as server:
        command, env = _apply_command(config, server.url)
        # a broken stop would wait the 600 s out: the watchdog kills it first
        returncode, out, err = _interrupted(command, env, "rate limited by the API: waiting 600 s", wait_s=SILENCE_S)
    assert returncode == 130, err
    assert "interrupted again" not in err  # one signal was enough
    assert "answered 429: interrupted while waiting for the API's rate limit: not sent again" in out
    assert "Apply interrupted: 8 not tried." in out
    assert app.state.pipeline("acme", "web", 7).actions == []


TWO_PIPELINES = """\
workspace: acme
project: web
pipelines:
  - name: Release images
    actions:
      - {name: Build app image, type: DOCKER_BUILD_MULTI_ARCH, dockerfile_path: Dockerfile}
  - name: Docs
    actions:
      - {name: Build docs image, type: DOCKER_BUILD_MULTI_ARCH, dockerfile_path: Dockerfile}
"""


def test_an_apply_with_a_pipeline_it_cannot_plan_says_so_in_its_verdict_even_with_q(
    workdir: Path, sandbox_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two live actions share a declared name: that pipeline is an error, the other one is applied.
    The verdict is not "Apply complete", and -q still shows the error (exit 1 with nothing said
    would be a silent failure)."""
    with sandbox_server.client() as http:
        body = {"name": "Build app image", "type": "DOCKER_BUILD_MULTI_ARCH"}
        assert http.post("/workspaces/acme/projects/web/pipelines/7/actions", json=body).status_code == 201
    write(workdir / "cfg" / "web.yml", TWO_PIPELINES)
    monkeypatch.setenv("BUDDY_TOKEN", sandbox_server.token)
    code, out, err = run("apply", "cfg", "--base-url", sandbox_server.url, "-q")
    assert code == 1
    assert 'error: acme/web pipeline "Release images": 2 live actions are named "Build app image"' in out + err
    assert "Apply incomplete" in out
    code, out, _err = run("apply", "cfg", "--base-url", sandbox_server.url)
    assert code == 1
    assert "Apply complete" not in out and out.rstrip().splitlines()[-1].startswith("Apply incomplete")


# -- hostile input (issue 13) -----------------------------------------------------------------------


def test_plan_names_every_unset_variable_with_its_file_and_line(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUDDY_TOKEN", "tok-never-shown-3141")
    code, _, err = run("plan", "examples", "--base-url", "http://127.0.0.1:9")  # refused before any request
    assert code == 1
    first = err.strip().splitlines()[0]
    assert first == "error: 2 environment variables not set: DOCKERHUB_USER, GHCR_USER", err
    named = re.findall(r"^  examples/\S+\.yml:\d+:\d+: environment variable (\w+) is not set", err, re.M)
    assert {"DOCKERHUB_USER", "GHCR_USER"} <= set(named) and len(named) >= 3, err


def test_apply_with_a_saved_plan_refuses_a_path(workdir: Path) -> None:
    code, _, err = run("apply", "--plan", "plan.json", "examples")
    assert code == 1
    assert "apply --plan applies exactly the saved plan and takes no PATH (got examples)" in err


def test_a_plan_made_for_a_url_with_a_password_is_refused_without_showing_it(workdir: Path) -> None:
    data = {
        "format_version": 1,
        "changes": [],
        "target": {"base_url": "https://bot:hunter22@api.buddy.works", "tool_version": "0"},
        "fingerprints": {},
    }
    write(workdir / "plan.json", json.dumps(data))
    code, _, err = run("apply", "--plan", "plan.json", "--sandbox")
    assert code == 1
    assert "the plan was made for https://***@api.buddy.works, not sandbox:" in err
    assert "hunter22" not in err


def test_everything_the_cli_writes_is_redacted_even_when_written_in_pieces() -> None:
    from reconciler.redact import RedactingStream, Redactor

    sink = io.StringIO()
    stream = RedactingStream(sink, Redactor(["tok-never-shown-3141"]))
    stream.write("token tok-never-")
    stream.write("shown-3141 here\nand a tail tok-never-shown-3141")
    assert sink.getvalue() == "token *** here\n"
    stream.flush()
    assert sink.getvalue() == "token *** here\nand a tail ***"
    assert not stream.isatty()


def test_while_a_terminal_view_is_open_log_lines_go_through_it_and_logging_is_restored_after() -> None:
    import logging

    from reconciler.cli.main import _logs_through, _setup_logging

    err = io.StringIO()
    _setup_logging(argparse.Namespace(verbose=True, quiet=False), err)
    seen: list[str] = []

    class View:
        def log(self, text: str) -> None:
            seen.append(text)

    logger = logging.getLogger("reconciler.buddy.client")
    with _logs_through(View()):
        logger.debug("GET /pipelines 200 3ms")
    logger.debug("GET /actions 200 2ms")
    assert seen == ["GET /pipelines 200 3ms"]
    assert err.getvalue() == "GET /actions 200 2ms\n"
    with _logs_through(object()):  # a view that draws nothing leaves logging alone
        logger.debug("plain")
    assert err.getvalue().endswith("plain\n")


@pytest.mark.parametrize("flag", [["--region", "eu"], ["--base-url", "https://api.eu.buddy.works"]])
def test_sandbox_with_a_real_api_named_too_is_a_usage_error(workdir: Path, flag: list[str]) -> None:
    code, _, err = run("plan", "examples", "--sandbox", *flag)
    assert code == 1
    assert "--sandbox the built-in simulator: give one of the two" in err


# -- interrupts before the first write: nothing to wait for ------------------------------------------


def _until(child: subprocess.Popen[bytes], master: int, text: bytes) -> bytes:
    """What the child shows on its terminal up to ``text`` (a hang fails after ``SILENCE_S``)."""
    seen = b""
    while text not in seen:
        ready, _, _ = select.select([master], [], [], SILENCE_S)
        assert ready, _silent(child, master, seen)
        seen += os.read(master, 4096)
    return seen


def _silent(child: subprocess.Popen[bytes], master: int, seen: bytes) -> str:
    """The message of a hang: what the child showed, then where each of its threads stood (the child
    runs with ``PYTHONFAULTHANDLER``, so SIGABRT makes it print every thread's stack before it dies)."""
    import signal

    child.send_signal(signal.SIGABRT)
    stacks = b""
    while select.select([master], [], [], 5)[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        stacks += chunk
    shown = seen.decode(errors="replace")
    return f"the child said nothing for {SILENCE_S} s:\n{shown}\n-- its threads --\n{stacks.decode(errors='replace')}"


def _rest(child: subprocess.Popen[bytes], master: int) -> bytes:
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], SILENCE_S)
        assert ready, _silent(child, master, seen)
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child has closed the terminal
            return seen
        if not chunk:
            return seen
        seen += chunk


def test_ctrl_c_at_the_question_cancels_at_once_with_exit_130_and_changes_nothing(workdir: Path) -> None:
    """The first Ctrl-C at "Enter a value:" does not leave the question waiting for an answer."""
    import signal

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    argv = [sys.executable, "-m", "reconciler", "apply", "examples", "--sandbox"]
    child = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=workdir, env=child_env())
    os.close(slave)
    try:
        _until(child, master, b"Enter a value:")
        child.send_signal(signal.SIGINT)
        shown = ANSI.sub("", _rest(child, master).decode(errors="replace"))
        code = child.wait(timeout=SILENCE_S)
    finally:
        os.close(master)
        if child.poll() is None:
            child.kill()
    assert code == 130, shown
    assert "SIGINT: interrupted before any change was made: nothing was changed" in shown
    assert "no new change is started" not in shown
    assert run("plan", "examples", "--sandbox", "--detailed-exitcode")[0] == 2  # nothing was changed


def test_sigint_while_live_state_is_read_stops_the_reads_and_exits_130(tmp_path: Path) -> None:
    """Before the first write there is nothing to let finish: the reads still queued are not made."""
    from reconciler.sandbox import SandboxApp, SandboxServer, SandboxState

    names = [f"P{i}" for i in range(6)]
    seed = {"workspaces": {"acme": {"projects": {"web": {"pipelines": [{"name": n} for n in names]}}}}}
    app = SandboxApp(SandboxState.from_data(seed))
    app.set_faults({"kind": "latency", "ms": 300, "methods": ["GET"]})
    config = write(
        tmp_path / "web.yml",
        "workspace: acme\nproject: web\npipelines:\n"
        + "".join(f"  - name: {n}\n    actions:\n      - {{name: B, type: DOCKER_BUILD_MULTI_ARCH}}\n" for n in names),
    )
    with SandboxServer(app, poll_interval=0.005) as server:
        command, env = _apply_command(config, server.url)
        app.reset_stats()
        returncode, out, err = _interrupted([*command, "-v"], env, "GET ", wait_s=SILENCE_S)
        gets = app.stats()["by_method"].get("GET", 0)
    assert returncode == 130, err
    assert "SIGINT: interrupted before any change was made: nothing was changed" in err
    assert "Traceback" not in err and out == ""
    assert gets < 1 + len(names)  # the pipeline list, then one read per pipeline: not all were made
    assert [p.actions for _ws, _pr, p in app.state.iter_pipelines()] == [[] for _ in names]


@pytest.mark.parametrize("flag", ["--prune", "--update-secrets", "--dedupe"])
def test_apply_of_a_saved_plan_refuses_an_option_that_would_have_changed_the_plan(workdir: Path, flag: str) -> None:
    """A plan option given to `apply --plan` would be silently ignored: the saved plan is applied as made."""
    run("plan", "examples", "--sandbox", "--out", "plan.json", "-q")
    code, out, err = run("apply", "--plan", "plan.json", "--sandbox", flag)
    assert (code, out) == (1, "")
    assert f"{flag} changes what is planned: give it to `reconcile plan --out`" in err
    assert run("plan", "examples", "--sandbox", "--detailed-exitcode")[0] == 2  # nothing was changed


def test_plan_prints_a_config_warning_with_one_warning_prefix(workdir: Path) -> None:
    write(workdir / "cfg" / "web.yml", OLD_SPELLING)
    code, out, err = run("plan", "cfg", "--sandbox")
    shown = [line for line in (out + err).splitlines() if "target_platform" in line and "cfg/web.yml" in line]
    assert code == 0 and shown, out + err
    assert all(line.count("warning:") == 1 for line in shown), shown
