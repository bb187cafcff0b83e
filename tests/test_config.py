"""load_config: files in, every problem at once or the desired model out."""

from __future__ import annotations

import io
import os
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.cli.main import main
from reconciler.config.build import Config, load_config
from reconciler.config.loader import Document
from reconciler.errors import NoConfigFiles, ValidationFailed
from reconciler.model import DesiredPipeline
from reconciler.problems import Location, Problem

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(autouse=True)
def schema_available(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The real schema check when it exists; until then a stand-in that finds nothing, so these tests
    exercise the composition either way."""
    try:
        import reconciler.config.schema  # noqa: F401
    except ImportError:
        stub = types.ModuleType("reconciler.config.schema")

        def check_document(doc: Document) -> list[Problem]:
            return []

        stub.check_document = check_document  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "reconciler.config.schema", stub)
    yield


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def by_key(config: Config) -> dict[tuple[str, str, str], DesiredPipeline]:
    return {p.key: p for p in config.pipelines}


def test_the_examples_are_valid() -> None:
    config = load_config([EXAMPLES])
    assert config.warnings == []
    assert sorted(by_key(config)) == [
        ("acme", "api", "Release images"),
        ("acme", "data-platform", "Nightly builds"),
        ("acme", "web", "Docs site"),
        ("acme", "web", "Nightly builds"),
        ("acme", "web", "Release images"),
    ]
    assert [Path(f).name for f in config.files] == ["api.yml", "data-platform.yml", "defaults.yml", "web.yml"]


def test_each_example_file_points_its_editor_at_the_schema() -> None:
    for file in sorted(EXAMPLES.rglob("*.yml")):
        first = file.read_text(encoding="utf-8").splitlines()[0]
        if not first.startswith("# yaml-language-server:"):
            continue
        relative = first.split("$schema=", 1)[1]
        assert (file.parent / relative).resolve() == (EXAMPLES.parent / "schemas" / "config.schema.json")


def test_an_action_keeps_every_api_field_as_written_but_not_our_own_keys(tmp_path: Path) -> None:
    config_file = write(
        tmp_path / "web.yml",
        "workspace: acme\nproject: web\npipelines:\n"
        "  - name: Release images\n    prune: true\n    priority: LOW\n    actions:\n"
        "      - name: Build app image\n        type: DOCKER_BUILD_MULTI_ARCH\n        after: Run tests\n"
        "        previous_names: [Build image]\n        registry: null\n"
        "        password: ${env:DOCKERHUB_TOKEN}\n",
    )
    (pipeline,) = load_config([config_file]).pipelines
    assert (pipeline.name, pipeline.id, pipeline.prune, pipeline.file) == (
        "Release images",
        None,
        True,
        str(config_file),
    )
    assert pipeline.fields == {"priority": "LOW"}
    assert pipeline.location == Location(str(config_file), 4, 5)
    (build,) = pipeline.actions
    assert build.fields == {
        "name": "Build app image",
        "type": "DOCKER_BUILD_MULTI_ARCH",
        "registry": None,
        "password": "${env:DOCKERHUB_TOKEN}",  # unresolved: loading never reads the environment
    }
    assert (build.after, build.previous_names) == ("Run tests", ("Build image",))
    assert build.location == Location(str(config_file), 8, 9)
    assert build.field_locations["registry"] == Location(str(config_file), 12, 19)
    assert set(build.field_locations) == set(build.fields)


def test_every_problem_of_every_file_is_raised_at_once_sorted_with_warnings(tmp_path: Path) -> None:
    write(tmp_path / "b.yml", "workspace: acme\nworkspace: twice\n")
    write(
        tmp_path / "a.yml",
        "domain: acme\nproject: web\npipelines:\n  - name: P\n    actions:\n"
        "      - name: A\n        type: DOCKER_BUILD_MULTI_ARCH\n        password: hunter2\n",
    )
    with pytest.raises(ValidationFailed) as caught:
        load_config([tmp_path, tmp_path / "missing.yml"])
    problems = caught.value.problems
    files = [Path(p.location.file).name for p in problems]
    assert files == sorted(files)
    assert {p.severity for p in problems} == {"error", "warning"}
    assert any("duplicate key" in p.message for p in problems)
    assert any("must not be plaintext" in p.message for p in problems)
    assert any("no such file" in p.message for p in problems)
    assert not any("hunter2" in str(p) for p in problems)


def test_2024_spellings_are_only_warnings(tmp_path: Path) -> None:
    config_file = write(
        tmp_path / "old.yml",
        "domain: acme\nproject: web\npipelines:\n  - name: P\n    actions:\n"
        "      - name: A\n        type: DOCKER_BUILD_MULTI_ARCH\n        dockerfile_path: Dockerfile\n"
        "        integration_hash: abc\n        target_platform: [linux/amd64, linux/arm64]\n",
    )
    config = load_config([config_file])
    assert [w.severity for w in config.warnings] == ["warning", "warning", "warning"]
    (pipeline,) = config.pipelines
    assert pipeline.workspace == "acme"
    assert pipeline.actions[0].fields["integration"] == {"identifier": "abc"}
    assert pipeline.actions[0].fields["target_platform"] == "linux/amd64,linux/arm64"


def test_skipped_files_are_listed(tmp_path: Path) -> None:
    workflow = write(tmp_path / "ci" / "build.yml", "on: push\njobs: {}\n")
    write(tmp_path / "web.yml", "workspace: acme\nproject: web\npipelines: []\n")
    config = load_config([tmp_path])
    assert config.skipped == [str(workflow)]
    assert config.pipelines == []


# -- golden bad-input cases ------------------------------------------------------------------------
# Golden bad-input cases: each directory of tests/cases/invalid/ is one kind of mistake.
#
# A case is ``config.yml`` (and any other ``*.yml`` beside it, for problems that span files) plus
# ``expected.txt``: the lines ``validate`` reports, one problem per line, exactly as
# ``file:line:col: $.path: message``. File names in ``expected.txt`` are relative to the case directory,
# so the cases read the same on every machine. Every ``*.yml`` of a case is named on the command line
# (not found by a directory scan), so a file that is not a config file is an error, as a user would see
# it. A case whose expected lines are all warnings must load; any error line means it must be refused.
#
# To rewrite the expected files after a deliberate change of wording: ``UPDATE_GOLDEN=1 pytest
# tests/test_config.py``, then read the diff.

CASES = Path(__file__).resolve().parent / "cases" / "invalid"
CASE_NAMES = sorted(p.name for p in CASES.iterdir() if p.is_dir())


def validate_lines(case: Path) -> tuple[list[str], bool]:
    """The problem lines for ``case`` with case-relative file names, and whether the case loaded."""
    files = sorted(case.glob("*.yml"))
    problems: list[Problem]
    try:
        problems = load_config(files).warnings
        loaded = True
    except ValidationFailed as failed:
        problems = failed.problems
        loaded = False
    # Messages may name other files too (a pipeline declared twice): every mention is made relative.
    prefix = str(case) + os.sep
    return [str(problem).replace(prefix, "") for problem in problems], loaded


def test_there_is_a_case_for_every_kind_of_bad_input() -> None:
    assert len(CASE_NAMES) >= 20


@pytest.mark.parametrize("name", CASE_NAMES)
def test_validate_reports_exactly_the_expected_problems(name: str) -> None:
    case = CASES / name
    lines, loaded = validate_lines(case)
    expected_file = case / "expected.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        expected_file.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    expected = expected_file.read_text(encoding="utf-8").splitlines()
    assert lines == expected
    has_errors = any(": warning: " not in line for line in expected)
    assert loaded is not has_errors


@pytest.mark.parametrize("name", CASE_NAMES)
def test_no_case_echoes_a_secret(name: str) -> None:
    lines, _ = validate_lines(CASES / name)
    assert not any("hunter2" in line or "fallback" in line for line in lines)


# -- no config files ---------------------------------------------------------------------------------


def test_a_path_with_no_config_file_is_an_error_not_an_empty_success(tmp_path: Path) -> None:
    write(tmp_path / "ci.yml", "on: push\njobs: {}\n")
    with pytest.raises(NoConfigFiles, match=f"no config files found in {tmp_path}"):
        load_config([tmp_path])


def test_the_near_miss_warnings_travel_with_the_no_config_error(tmp_path: Path) -> None:
    write(tmp_path / "web.yml", "Workspace: acme\nproject: web\n")
    # `project` makes it a config file; a lone misspelt key does not.
    write(tmp_path / "other" / "api.yml", "Workspace: acme\n")
    with pytest.raises(NoConfigFiles) as caught:
        load_config([tmp_path / "other"])
    assert "api.yml:1:1: $.Workspace: warning:" in str(caught.value)


@pytest.mark.parametrize("command", ["validate", "plan", "apply"])
def test_validate_plan_and_apply_exit_1_on_a_path_with_no_config_file(tmp_path: Path, command: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main([command, str(tmp_path)], out=out, err=err) == 1
    assert f"error: no config files found in {tmp_path}" in err.getvalue()


def test_a_pipeline_s_previous_names_and_safety_are_carried_but_never_sent_as_pipeline_fields(tmp_path: Path) -> None:
    write(
        tmp_path / "web.yml",
        "workspace: acme\nproject: web\npipelines:\n  - name: Release\n    previous_names: [Old release]\n"
        "    safety: {max_delete_percent: 50}\n    priority: HIGH\n    actions: []\n",
    )
    (pipeline,) = load_config([tmp_path]).pipelines
    assert pipeline.previous_names == ("Old release",)
    assert pipeline.safety == {"max_delete_percent": 50}
    assert pipeline.fields == {"priority": "HIGH"}
