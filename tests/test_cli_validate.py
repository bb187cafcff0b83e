"""`reconcile validate --format json|github`: the problems as data for scripts, or as annotations."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from reconciler.cli.main import main

ROOT = Path(__file__).resolve().parent.parent

BROKEN = """\
workspace: acme
project: web
pipelines:
  - name: Release
    actions:
      - name: Build
        type: DOCKER_BUILD_MULTI_ARCH
        cache_mode: max
        bogus: 1
"""


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    (tmp_path / "web.yml").write_text(BROKEN, encoding="utf-8")
    return tmp_path


def test_json_lists_each_problem_with_its_place_path_message_and_suggestion(broken: Path) -> None:
    code, out, _ = run("validate", str(broken), "--format", "json")
    assert code == 1
    data = json.loads(out)
    assert (data["valid"], data["files"], data["errors"], data["warnings"]) == (False, 1, 2, 0)
    cache, bogus = data["problems"]
    assert cache == {
        "file": str(broken / "web.yml"),
        "line": 8,
        "column": 21,
        "path": "$.pipelines[0].actions[0].cache_mode",
        "severity": "error",
        "message": "`max` is not one of the allowed values: MIN, MAX",
        "suggestion": "MAX",
    }
    assert bogus["path"].endswith(".bogus") and bogus["line"] == 9 and bogus["suggestion"] is None


def test_json_of_valid_files_says_valid_with_no_problems() -> None:
    code, out, _ = run("validate", str(ROOT / "examples"), "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["valid"] is True and data["problems"] == [] and data["files"] == 4


def test_github_format_is_one_error_annotation_per_problem_on_its_file_line_and_column(broken: Path) -> None:
    code, out, _ = run("validate", str(broken), "--format", "github")
    assert code == 1
    first, second, summary = out.splitlines()
    assert first.startswith(f"::error file={broken / 'web.yml'},line=8,col=21::$.pipelines[0].actions[0].cache_mode: ")
    assert first.endswith("did you mean `MAX`?")
    assert second.startswith(f"::error file={broken / 'web.yml'},line=9,col=9::")
    assert summary == "1 file(s) invalid: 2 error(s), 0 warning(s)."
