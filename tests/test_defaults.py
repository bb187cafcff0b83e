"""Defaults at the directory, file and pipeline level: the effective actions, and problems located at
the defaults block they came from.

Each directory of ``tests/cases/defaults/`` is a small repository, read as a directory scan. Its
``expected.json`` holds either ``pipelines`` (``"project/pipeline" -> action name -> effective fields``)
when it is valid, or ``problems`` (the lines validate reports, file names relative to the case). To
rewrite them after a deliberate change: ``UPDATE_GOLDEN=1 pytest tests/test_defaults.py``, then read the
diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from reconciler.config.build import load_config
from reconciler.config.defaults import apply_defaults, is_defaults_file
from reconciler.config.loader import load_text
from reconciler.errors import NoConfigFiles, ValidationFailed

CASES = Path(__file__).resolve().parent / "cases" / "defaults"
CASE_NAMES = sorted(p.name for p in CASES.iterdir() if p.is_dir())


def outcome(case: Path) -> dict[str, Any]:
    prefix = str(case) + os.sep
    try:
        config = load_config([case])
    except ValidationFailed as failed:
        return {"problems": [str(p).replace(prefix, "") for p in failed.problems]}
    pipelines: dict[str, Any] = {}
    for pipeline in config.pipelines:
        actions = {action.name: dict(action.fields) for action in pipeline.actions}
        pipelines[f"{pipeline.project}/{pipeline.name}"] = actions
    result: dict[str, Any] = {"pipelines": pipelines}
    if config.warnings:
        result["warnings"] = [str(p).replace(prefix, "") for p in config.warnings]
    return result


def test_there_are_golden_cases_for_defaults() -> None:
    assert len(CASE_NAMES) >= 3


@pytest.mark.parametrize("name", CASE_NAMES)
def test_defaults_give_exactly_the_expected_effective_actions_or_problems(name: str) -> None:
    case = CASES / name
    got = outcome(case)
    expected_file = case / "expected.json"
    if os.environ.get("UPDATE_GOLDEN"):
        expected_file.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert got == json.loads(expected_file.read_text(encoding="utf-8"))


def test_a_directory_holding_only_a_defaults_file_has_no_config_file(tmp_path: Path) -> None:
    (tmp_path / "common.yaml").write_text("defaults:\n  cache_mode: MAX\n", encoding="utf-8")
    with pytest.raises(NoConfigFiles):
        load_config([tmp_path])


def test_an_inherited_value_is_a_copy_of_its_own() -> None:
    text = (
        "workspace: a\nproject: b\ndefaults:\n  type: DOCKER_BUILD_MULTI_ARCH\n  build_args: [A=1]\n"
        "pipelines:\n  - name: P\n    actions:\n      - name: X\n      - name: Y\n"
    )
    (doc,) = load_text(text, "web.yml").documents
    (config,) = apply_defaults([doc])
    first, second = config.data["pipelines"][0]["actions"]
    assert first["build_args"] == second["build_args"] == ["A=1"]
    assert first["build_args"] is not second["build_args"]
    assert not is_defaults_file(doc)


def test_a_github_workflow_with_a_top_level_defaults_key_is_not_a_defaults_file(tmp_path: Path) -> None:
    (tmp_path / "ci.yml").write_text("on: push\ndefaults:\n  run:\n    shell: bash\njobs: {}\n", encoding="utf-8")
    (tmp_path / "web.yml").write_text(
        "workspace: a\nproject: b\npipelines:\n  - name: P\n    actions:\n"
        "      - {name: X, type: DOCKER_BUILD_MULTI_ARCH}\n",
        encoding="utf-8",
    )
    config = load_config([tmp_path])
    assert config.pipelines[0].actions[0].fields == {"name": "X", "type": "DOCKER_BUILD_MULTI_ARCH"}
    assert config.skipped == [str(tmp_path / "ci.yml")]


def test_a_file_named_alone_still_gets_the_defaults_of_its_folder_and_those_above(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "common.yaml").write_text("defaults:\n  type: DOCKER_BUILD_MULTI_ARCH\n", encoding="utf-8")
    (tmp_path / "broken.yml").write_text("defaults: [unrelated\n", encoding="utf-8")  # not ours: no word
    (tmp_path / "team").mkdir()
    (tmp_path / "team" / "defaults.yml").write_text("defaults:\n  cache_mode: MAX\n", encoding="utf-8")
    (tmp_path / "team" / "ci.yml").write_text("on: push\ndefaults: {run: {shell: bash}}\n", encoding="utf-8")
    web = tmp_path / "team" / "web.yaml"
    web.write_text(
        "workspace: a\nproject: b\npipelines:\n  - name: P\n    actions:\n      - name: X\n", encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    config = load_config([Path("team") / "web.yaml"])
    assert config.pipelines[0].actions[0].fields == {
        "name": "X",
        "type": "DOCKER_BUILD_MULTI_ARCH",
        "cache_mode": "MAX",
    }
    assert config.warnings == [] and config.skipped == []


def test_defaults_above_the_current_directory_are_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "common.yaml").write_text("defaults:\n  cache_mode: MAX\n", encoding="utf-8")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "web.yaml").write_text(
        "workspace: a\npipelines:\n  - name: P\n    actions:\n      - {name: X, type: DOCKER_BUILD_MULTI_ARCH}\n"
        "project: b\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(repo)
    assert load_config(["web.yaml"]).pipelines[0].actions[0].fields == {"name": "X", "type": "DOCKER_BUILD_MULTI_ARCH"}
