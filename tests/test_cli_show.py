"""`reconcile show PLANFILE`: a saved plan printed in every plan format, with no network and no token,
and a file `apply --plan` would refuse refused with the same words."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from reconciler.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
_ENV_NAMES = ("BUDDY_TOKEN", "BUDDY_BASE_URL", "DOCKERHUB_USER", "DOCKERHUB_TOKEN", "GHCR_USER", "GHCR_TOKEN")


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def saved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A plan of examples/ against the sandbox, saved as plan.json in the current directory."""
    shutil.copytree(EXAMPLES, tmp_path / "examples", ignore=shutil.ignore_patterns(".reconcile-*", "plan.*"))
    for name in _ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOCKERHUB_USER", "dockerhub-login-7")
    monkeypatch.setenv("GHCR_USER", "ghcr-login-7")
    code, _, err = run("plan", "examples", "--sandbox", "--out", "plan.json", "-q")
    assert code == 0, err
    return tmp_path / "plan.json"


@pytest.mark.parametrize("fmt", ["text", "markdown", "json", "github"])
def test_show_prints_exactly_what_plan_printed_in_each_format(saved: Path, fmt: str) -> None:
    _, planned, _ = run("plan", "examples", "--sandbox", "--format", fmt)
    code, shown, err = run("show", str(saved), "--format", fmt)
    assert code == 0, err
    assert shown == planned
    assert shown.strip()


def test_show_needs_no_token_and_no_sandbox_and_sends_no_request(saved: Path) -> None:
    # no BUDDY_TOKEN is set, and the test suite refuses any connection beyond the loopback address
    code, out, err = run("show", str(saved))
    assert code == 0, err
    assert "Plan:" in out and "to create" in out


def test_show_masks_the_secrets_of_the_plan_file_which_keeps_only_references(saved: Path) -> None:
    assert "${env:DOCKERHUB_USER}" in saved.read_text(encoding="utf-8")
    for fmt in ("text", "markdown", "json"):
        _, out, _ = run("show", str(saved), "--format", fmt)
        assert "dockerhub-login-7" not in out and "${env:DOCKERHUB_USER}" not in out


def test_show_refuses_a_plan_of_another_format_version_as_apply_plan_does(saved: Path) -> None:
    data = json.loads(saved.read_text(encoding="utf-8"))
    data["format_version"] = 99
    saved.write_text(json.dumps(data), encoding="utf-8")
    shown = run("show", str(saved))
    applied = run("apply", "--plan", str(saved), "--sandbox")
    assert shown[0] == applied[0] == 1
    assert "format_version 99" in shown[2]
    assert shown[2] == applied[2]
    assert shown[1] == ""


def test_show_refuses_an_edited_plan_naming_the_field_as_apply_plan_does(saved: Path) -> None:
    data = json.loads(saved.read_text(encoding="utf-8"))
    data["changes"][0]["pipeline_id"] = "seven"
    saved.write_text(json.dumps(data), encoding="utf-8")
    shown = run("show", str(saved), "--format", "markdown")
    applied = run("apply", "--plan", str(saved), "--sandbox")
    assert shown[0] == 1 and "changes[0].pipeline_id" in shown[2]
    assert shown[2] == applied[2]


@pytest.mark.parametrize("content", [None, "not json at all", "[]"], ids=["missing", "not JSON", "not a plan"])
def test_show_of_a_file_that_is_no_plan_is_one_line_and_exit_1(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "plan.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    code, out, err = run("show", str(path))
    assert code == 1 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_show_without_a_planfile_is_a_usage_error() -> None:
    code, _, err = run("show")
    assert code == 1 and "PLANFILE" in err
