"""load_config: files in, every problem at once or the desired model out."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.config import Config, load_config
from reconciler.errors import ValidationFailed
from reconciler.loader import Document
from reconciler.model import DesiredPipeline
from reconciler.problems import Location, Problem

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(autouse=True)
def schema_available(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The real schema check when it exists; until then a stand-in that finds nothing, so these tests
    exercise the composition either way."""
    try:
        import reconciler.schema  # noqa: F401
    except ImportError:
        stub = types.ModuleType("reconciler.schema")

        def check_document(doc: Document) -> list[Problem]:
            return []

        stub.check_document = check_document  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "reconciler.schema", stub)
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
    assert [Path(f).name for f in config.files] == ["api.yml", "data-platform.yml", "web.yml"]


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
