"""A bug is not a refusal: an unexpected exception exits 3 with one paragraph, a redacted traceback
in a file it names, and (in the middle of an apply) the report of what was already changed (issue 23,
item 7). Against the sandbox, in a real process."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from reconciler.sandbox import ALL_SCOPES, SandboxApp, SandboxServer, SandboxState

TOKEN = "tok-3f9c2a7d5e1b8c4a"
SECRET = "pw-7a1c9e3b5d2f"
MA = "DOCKER_BUILD_MULTI_ARCH"
SEED = {
    "workspaces": {
        "acme": {"projects": {"web": {"pipelines": [{"id": 7, "name": "Release", "actions": []}]}}},
    }
}
CONFIG = """\
workspace: acme
project: web
pipelines:
  - name: Release
    actions:
      - {name: Build A, type: DOCKER_BUILD_MULTI_ARCH, dockerfile_path: a/Dockerfile, password: "${env:PW}"}
      - {name: Build B, type: DOCKER_BUILD_MULTI_ARCH, dockerfile_path: b/Dockerfile}
      - {name: Build C, type: DOCKER_BUILD_MULTI_ARCH, dockerfile_path: c/Dockerfile}
"""
#: runs the CLI with a bug planted in the second change the apply makes (its message holds both secrets)
PLANTED = """\
import os, sys
from reconciler.buddy.client import BuddyClient
from reconciler.cli.main import main

real = BuddyClient.create_action
calls = []

def create_action(self, *args, **kw):
    calls.append(args)
    if len(calls) == 2:
        return 1 / 0 if os.environ["CRASH"] == "zero" else {}[os.environ["BUDDY_TOKEN"] + os.environ["PW"]]
    return real(self, *args, **kw)

BuddyClient.create_action = create_action
sys.exit(main(sys.argv[1:]))
"""


def run_planted(tmp_path: Path, url: str, crash: str, *argv: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "web.yml").write_text(CONFIG)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUDDY_")}
    env.update(BUDDY_TOKEN=TOKEN, PW=SECRET, CRASH=crash, TMPDIR=str(tmp_path), NO_COLOR="1")
    return subprocess.run(
        [sys.executable, "-c", PLANTED, "apply", "web.yml", "--base-url", url, "--auto-approve", *argv],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_bug_in_the_middle_of_an_apply_exits_3_and_names_what_was_changed(tmp_path: Path) -> None:
    app = SandboxApp(SandboxState.from_data(SEED), tokens={TOKEN: ALL_SCOPES})
    with SandboxServer(app, poll_interval=0.005) as server:
        done = run_planted(tmp_path, server.url, "secret")
    output = done.stdout + done.stderr
    assert done.returncode == 3, output
    assert "Build A" in done.stdout and "applied" in done.stdout  # the change already made is named
    assert "Build C" in done.stdout and "not tried" in done.stdout
    assert "Traceback" not in output and TOKEN not in output and SECRET not in output
    assert "bug in reconcile" in done.stderr
    [name] = re.findall(r"details in (\S+?);", done.stderr)
    details = Path(name).read_text()
    assert "Traceback" in details and "KeyError" in details and "create_action" in details
    assert TOKEN not in details and SECRET not in details
    assert [a.name for _w, _p, p in app.state.iter_pipelines() for a in p.actions] == ["Build A"]


def test_a_bug_prints_its_traceback_with_verbose_redacted_still(tmp_path: Path) -> None:
    app = SandboxApp(SandboxState.from_data(SEED), tokens={TOKEN: ALL_SCOPES})
    with SandboxServer(app, poll_interval=0.005) as server:
        done = run_planted(tmp_path, server.url, "zero", "-v")
    assert done.returncode == 3
    assert "internal error: ZeroDivisionError: division by zero" in done.stderr
    assert "Traceback" in done.stderr and TOKEN not in done.stderr + done.stdout


def test_a_bug_outside_an_apply_exits_3_too_with_the_token_masked_in_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reconciler import engine
    from reconciler.cli.main import main

    def broken(*_args: object, **_kw: object) -> None:
        raise ValueError(f"bad {TOKEN}")

    monkeypatch.setattr(engine, "validate", broken)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setenv("BUDDY_TOKEN", TOKEN)
    out, err = io.StringIO(), io.StringIO()
    assert main(["validate", str(tmp_path)], out=out, err=err) == 3
    said = err.getvalue()
    assert said.startswith("internal error: ValueError: bad ***; this is a bug in reconcile") and TOKEN not in said
    [details] = tmp_path.glob("reconcile-crash-*.txt")
    assert "Traceback" in details.read_text() and TOKEN not in details.read_text()
