"""The plan says where a value comes from: a declared value from a defaults file, or a file's or a
pipeline's `defaults:`, is followed by its place in the text and markdown plans, and carried as
`source` (`sources` for a create) in the JSON plan and the plan file; against the sandbox."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.cli.main import main
from reconciler.sandbox import ALL_SCOPES, SandboxApp, SandboxServer, SandboxState

TOKEN = "tok-sources-0123456789abcdef"
ACTION = {"id": 41, "name": "Build", "type": "DOCKER_BUILD_MULTI_ARCH", "dockerfile_path": "Dockerfile"}
SEED = {
    "workspaces": {"acme": {"projects": {"web": {"pipelines": [{"id": 7, "name": "Release", "actions": [ACTION]}]}}}}
}
DEFAULTS = "defaults:\n  type: DOCKER_BUILD_MULTI_ARCH\n  cache_mode: MAX\n"
CONFIG = """\
workspace: acme
project: web
defaults:
  target_stage: runtime
pipelines:
  - name: Release
    defaults:
      context_path: /app
    actions:
      - name: Build
        dockerfile_path: Dockerfile
      - name: Build docs
        dockerfile_path: docs/Dockerfile
"""


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "defaults.yml").write_text(DEFAULTS, encoding="utf-8")
    (tmp_path / "pipelines" / "web.yml").write_text(CONFIG, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BUDDY_TOKEN", TOKEN)
    app = SandboxApp(SandboxState.from_data(json.loads(json.dumps(SEED))), tokens={TOKEN: ALL_SCOPES})
    with SandboxServer(app, poll_interval=0.005) as server:
        monkeypatch.setenv("BUDDY_BASE_URL", server.url)
        yield tmp_path


def test_an_updated_value_from_each_kind_of_defaults_block_names_its_place(repo: Path) -> None:
    code, out, err = run("plan", "pipelines")
    assert code == 0, err
    assert "cache_mode    null -> MAX  (pipelines/defaults.yml:3)" in out
    assert "target_stage  null -> runtime  (pipelines/web.yml:4)" in out
    assert "context_path  null -> /app  (pipelines/web.yml:8)" in out
    assert "dockerfile_path" not in out.split("update")[1].split("create")[0]  # its own value: unchanged


def test_a_created_action_names_the_place_of_each_inherited_field_and_not_of_its_own(repo: Path) -> None:
    _, out, _ = run("plan", "pipelines")
    create = out.split('+ create  "Build docs"')[1]
    assert "cache_mode       MAX  (pipelines/defaults.yml:3)" in create
    assert "dockerfile_path  docs/Dockerfile\n" in create


def test_the_json_plan_carries_source_and_the_markdown_plan_says_it(repo: Path) -> None:
    _, out, _ = run("plan", "pipelines", "--format", "json")
    changes = {c["kind"]: c for c in json.loads(out)["changes"]}
    update, create = changes["update"], changes["create"]
    assert update["diff"]["cache_mode"]["source"] == "pipelines/defaults.yml:3"
    assert "source" not in update["diff"].get("dockerfile_path", {})
    assert create["sources"] == {
        "type": "pipelines/defaults.yml:2",
        "cache_mode": "pipelines/defaults.yml:3",
        "target_stage": "pipelines/web.yml:4",
        "context_path": "pipelines/web.yml:8",
    }
    _, markdown, _ = run("plan", "pipelines", "--format", "markdown")
    assert "(pipelines/defaults.yml:3)" in markdown


def test_a_saved_plan_keeps_the_sources_for_show(repo: Path) -> None:
    assert run("plan", "pipelines", "--out", "plan.json")[0] == 0
    _, shown, _ = run("show", "plan.json")
    _, planned, _ = run("plan", "pipelines")
    assert shown == planned and "(pipelines/defaults.yml:3)" in shown
