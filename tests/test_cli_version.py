"""The distribution's name and version: one name of our own on the package index, one version everywhere
(pyproject, the package's fallback, the installed metadata, `reconcile --version`, the CHANGELOG)."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from reconciler import __version__
from reconciler.cli import args as cliargs
from reconciler.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_the_distribution_is_buddy_reconcile_and_the_command_stays_reconcile() -> None:
    assert PYPROJECT["name"] == cliargs.DISTRIBUTION == "buddy-reconcile"
    assert PYPROJECT["scripts"] == {"reconcile": "reconciler.cli.main:main"}


def test_the_fallback_version_is_the_pyproject_version() -> None:
    assert __version__ == PYPROJECT["version"]


def test_version_prints_the_installed_metadata_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"reconcile {metadata.version('buddy-reconcile')}\n"


def test_version_falls_back_to_the_package_version_when_no_metadata_is_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    assert cliargs.installed_version() == __version__


def test_the_changelog_starts_with_unreleased_then_the_current_version() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    versions = re.findall(r"^## \[([^\]]+)\]", text, re.M)
    assert versions[:2] == ["Unreleased", PYPROJECT["version"]]
    assert re.search(rf"^## \[{re.escape(PYPROJECT['version'])}\] - \d{{4}}-\d{{2}}-\d{{2}}$", text, re.M)


#: a requirement `reconcile`, `reconcile==…` or `"reconcile @ git+…"` (the README's warning is none)
_OTHER_RECONCILE = re.compile(r"pip install(?: -{1,2}\S+)* [\"']?reconcile(?:\s*[=@<>~]|[\"'])")


def test_no_recipe_nor_doc_tells_to_install_the_other_projects_reconcile_distribution() -> None:
    texts = [ROOT / "README.md", ROOT / ".pre-commit-hooks.yaml", *sorted((ROOT / "examples" / "ci").rglob("*"))]
    for path in texts:
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert not _OTHER_RECONCILE.search(text), path


def test_the_other_projects_install_line_is_recognised_in_every_spelling() -> None:
    for line in ("pip install --quiet 'reconcile==0.0.5'", 'pip install "reconcile @ git+https://x/y"'):
        assert _OTHER_RECONCILE.search(line), line
    assert not _OTHER_RECONCILE.search('pip install "buddy-reconcile @ git+https://x/y" && reconcile apply')
