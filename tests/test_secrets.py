"""Secrets never leak: the token and every secret value stay out of every output, log and plan file."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.cli.main import main
from reconciler.sandbox import ALL_SCOPES, SandboxApp, SandboxServer, SandboxState

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TOKEN = "tok-VERY-SECRET-0123456789abcdef"
SECRETS = {
    "DOCKERHUB_USER": "user-SECRET-dockerhub",
    "DOCKERHUB_TOKEN": "pw-SECRET-dockerhub",
    "GHCR_USER": "user-SECRET-ghcr",
    "GHCR_TOKEN": "pw-SECRET-ghcr",
}


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    seed = json.loads((EXAMPLES / "sandbox-state.json").read_text())
    app = SandboxApp(SandboxState.from_data(seed), tokens={TOKEN: ALL_SCOPES})
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BUDDY_TOKEN", TOKEN)
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    with SandboxServer(app, poll_interval=0.005) as running:
        monkeypatch.setenv("BUDDY_BASE_URL", running.url)
        yield running


def run(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue() + err.getvalue()


def assert_clean(text: str) -> None:
    assert TOKEN not in text
    for name, value in SECRETS.items():
        assert value not in text, f"the value of {name} leaked"


def test_no_output_format_log_or_plan_file_contains_the_token_or_a_secret(server: SandboxServer, tmp_path: Path):
    outputs = []
    for fmt in ("text", "markdown", "json", "github"):
        code, text = run("plan", "examples", "-v", "--format", fmt, "--out", f"plan-{fmt}.json")
        assert code == 0, text
        outputs.append(text)
        outputs.append((tmp_path / f"plan-{fmt}.json").read_text())
    assert "(sensitive)" in outputs[0]
    assert "${env:DOCKERHUB_TOKEN}" in outputs[1]  # the plan file keeps the reference, for apply --plan
    code, text = run("apply", "--plan", "plan-json.json", "-v")
    assert code == 0, text
    outputs.append(text)
    code, text = run("plan", "examples", "-v", "--update-secrets", "--detailed-exitcode")
    assert code == 2, text  # rotation sends the write-only fields again
    outputs.append(text)
    code, text = run("apply", "examples", "-v", "--update-secrets")
    assert code == 0, text
    outputs.append(text)
    for text in outputs:
        assert_clean(text)


def test_a_refused_token_is_reported_without_the_token(server: SandboxServer, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BUDDY_TOKEN", TOKEN + "-wrong")
    code, text = run("plan", "examples", "-v")
    assert code == 1
    assert "401" in text and "BUDDY_TOKEN" in text and "EXECUTION_INFO" in text
    assert TOKEN not in text


def test_an_unset_secret_variable_is_named_but_never_valued(server: SandboxServer, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("GHCR_TOKEN")
    code, text = run("plan", "examples")
    assert code == 0 and "(sensitive, not set)" in text  # plan never needs a write-only value
    code, text = run("apply", "examples")
    assert code == 1 and "GHCR_TOKEN" in text and "nothing was changed" in text
    assert_clean(text)
