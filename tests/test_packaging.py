"""The schemas ship inside the wheel and load from an installed package, not only from a source tree."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = ("action.schema.json", "config.schema.json")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from a copy of the project, so the build's scratch files stay out of the work tree."""
    if importlib.util.find_spec("wheel") is None:
        # setuptools before 70.1 builds wheels through the `wheel` package (pyproject's build-system
        # lists it); without build isolation it must be installed beside setuptools.
        pytest.skip("the `wheel` package is not installed, so setuptools cannot build a wheel")
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        if (REPO / name).exists():
            shutil.copy(REPO / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for directory in ("reconciler", "schemas"):
        shutil.copytree(REPO / directory, source / directory, ignore=ignore)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "-w",
            str(out),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    [built] = out.glob("buddy_reconcile-*.whl")
    return built


@pytest.mark.slow
def test_the_wheel_carries_both_schemas_inside_the_package(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for schema in SCHEMAS:
            member = f"reconciler/schemas/{schema}"
            assert member in names
            assert archive.read(member) == (REPO / "schemas" / schema).read_bytes()


@pytest.mark.slow
def test_the_installed_package_loads_its_schemas_without_the_source_tree(wheel: Path, tmp_path: Path) -> None:
    installed = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(installed)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    program = """
import json
import reconciler.config.schema as s
from reconciler.config.loader import Document
action = {"name": "n", "type": "DOCKER_BUILD_MULTI_ARCH", "cache_mode": "X"}
doc = Document("x.yaml", {"workspace": "a", "project": "b", "pipelines": [{"name": "p", "actions": [action]}]})
print(json.dumps({
    "file": s.__file__,
    "action": s.load_schema("action")["title"],
    "config": sorted(s.load_schema("config")["properties"]),
    "problems": [p.message for p in s.check_document(doc)],
}))
"""
    env = {**os.environ, "PYTHONPATH": str(installed)}
    # -I would also drop PYTHONPATH; -s and -P keep the user site and the current directory out instead.
    done = subprocess.run(
        [sys.executable, "-s", "-P", "-c", program],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result = json.loads(done.stdout)
    assert Path(result["file"]).is_relative_to(installed)
    assert result["action"].startswith("Build multi-arch image")
    assert result["config"] == ["defaults", "pipelines", "project", "prune_pipelines", "workspace"]
    assert result["problems"] == ["`X` is not one of the allowed values: MIN, MAX"]
