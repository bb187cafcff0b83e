"""Small things a new user met in the trial (issue 24): a wrong base URL told as one line, skipped YAML
files named without -v, and shell-style `${NAME}` in a write-only field warned about."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli.main import main
from reconciler.cli.signals import stop_on_signals


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def config(workspace: str, project: str, password: str = "${env:PW}") -> str:
    return (
        f"workspace: {workspace}\nproject: {project}\npipelines:\n  - name: Release\n    actions:\n"
        "      - name: Build\n        type: DOCKER_BUILD_MULTI_ARCH\n        dockerfile_path: Dockerfile\n"
        f"        password: {password}\n"
    )


def test_when_every_project_answers_404_plan_says_so_once_and_names_buddy_base_url(
    tmp_path: Path, sandbox_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.yml").write_text(config("nope", "web"), encoding="utf-8")
    (tmp_path / "b.yml").write_text(config("acme", "missing"), encoding="utf-8")
    monkeypatch.setenv("BUDDY_TOKEN", sandbox_server.token)
    code, out, err = run("plan", str(tmp_path), "--base-url", sandbox_server.url)
    assert code == 1 and out == ""
    (line,) = err.splitlines()
    assert line.startswith("error: all 2 projects the files name answered 404 not found (acme/missing, nope/web)")
    assert f"the base URL may be wrong: it is {sandbox_server.url}" in line and "BUDDY_BASE_URL" in line


def test_one_project_found_keeps_the_404_of_the_other_as_its_pipelines_error(
    tmp_path: Path, sandbox_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.yml").write_text(config("nope", "web"), encoding="utf-8")
    (tmp_path / "b.yml").write_text(config("acme", "web"), encoding="utf-8")
    monkeypatch.setenv("BUDDY_TOKEN", sandbox_server.token)
    code, out, err = run("plan", str(tmp_path), "--base-url", sandbox_server.url)
    assert code == 1
    assert "BUDDY_BASE_URL" not in out + err and "'nope'" in out


@pytest.fixture
def with_oops(tmp_path: Path) -> Path:
    (tmp_path / "web.yml").write_text(config("acme", "web"), encoding="utf-8")
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "oops.yml").write_text("- a list, not a config\n", encoding="utf-8")
    return tmp_path


def test_validate_names_a_skipped_yaml_file_without_v(with_oops: Path) -> None:
    code, out, err = run("validate", str(with_oops))
    assert code == 0 and "1 file(s) valid" in out
    assert err == f"1 YAML file skipped: {with_oops / 'pipelines' / 'oops.yml'}: not a reconcile config\n"


def test_validate_counts_several_skipped_files_on_one_line_and_q_silences_it(with_oops: Path) -> None:
    (with_oops / "notes.yaml").write_text("just: notes\n", encoding="utf-8")
    _, _, err = run("validate", str(with_oops))
    assert err.startswith("2 YAML files skipped as not reconcile configs: ") and err.count("\n") == 1
    assert run("validate", str(with_oops), "-q")[2] == ""
    verbose = run("validate", str(with_oops), "-v")[2]
    assert verbose.count("skipped (not a config file): ") == 2


def test_shell_syntax_in_a_write_only_field_is_a_warning_that_suggests_an_env_reference(tmp_path: Path) -> None:
    (tmp_path / "web.yml").write_text(config("acme", "web", "${DOCKERHUB_TOKEN}"), encoding="utf-8")
    code, out, _ = run("validate", str(tmp_path))
    assert code == 0
    (warning,) = [line for line in out.splitlines() if "warning:" in line]
    assert (
        ".password: warning: `${DOCKERHUB_TOKEN}` is not expanded by reconcile: Buddy receives it literally" in warning
    )
    assert "write `${env:DOCKERHUB_TOKEN}`" in warning


def test_a_plain_buddy_variable_in_a_write_only_field_is_no_warning(tmp_path: Path) -> None:
    (tmp_path / "web.yml").write_text(config("acme", "web", "$DOCKERHUB_TOKEN"), encoding="utf-8")
    code, out, _ = run("validate", str(tmp_path))
    assert code == 0 and "0 warning(s)" in out


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("err", "start"), [(_Terminal(), "\nSIGTERM: stopping: "), (io.StringIO(), "SIGTERM: stopping: ")]
)
def test_the_stopping_message_starts_on_a_fresh_line_on_a_terminal_only(err: io.StringIO, start: str) -> None:
    writing = threading.Event()
    writing.set()  # changes are being made: a signal stops starting new ones
    with stop_on_signals(err, writing) as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(5)
    assert err.getvalue().startswith(start)


def test_plan_counts_the_files_of_an_invalid_configuration_as_validate_does(tmp_path: Path) -> None:
    (tmp_path / "good.yml").write_text(config("acme", "web"), encoding="utf-8")
    (tmp_path / "bad.yml").write_text("workspace: acme\nproject: api\npipelines: 3\n", encoding="utf-8")
    code, _, err = run("plan", str(tmp_path), "--sandbox", "--sandbox-state", str(tmp_path / "state.json"))
    assert code == 1
    _, validated, _ = run("validate", str(tmp_path))
    assert err.splitlines()[-1] == validated.splitlines()[-1] == "2 file(s) invalid: 1 error(s), 0 warning(s)."


def test_plan_names_a_skipped_yaml_file_as_validate_does_and_q_silences_it(with_oops: Path) -> None:
    state = str(with_oops.parent / "state.json")
    code, _, err = run("plan", str(with_oops), "--sandbox", "--sandbox-state", state)
    assert code == 0
    assert f"1 YAML file skipped: {with_oops / 'pipelines' / 'oops.yml'}: not a reconcile config\n" in err
    assert "skipped" not in run("plan", str(with_oops), "--sandbox", "--sandbox-state", state, "-q")[2]


def test_a_signal_after_an_interrupted_command_of_the_process_exits_130_without_a_traceback() -> None:
    # the process's own command (the console script): once a signal stopped it, another one, while the
    # last message is written or the interpreter shuts down, exits at once, never a KeyboardInterrupt
    script = (
        "import io, os, signal, threading, time\n"
        "from reconciler.cli.signals import stop_on_signals\n"
        "writing = threading.Event(); writing.set()\n"
        "with stop_on_signals(io.StringIO(), writing, final=True) as stop:\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    assert stop.wait(5)\n"
        "os.kill(os.getpid(), signal.SIGINT)\n"
        "time.sleep(5)\n"
        "print('not reached')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (130, "")
    assert "Traceback" not in done.stderr and "KeyboardInterrupt" not in done.stderr
