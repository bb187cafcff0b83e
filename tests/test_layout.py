"""The code's shape holds: modules of at most 500 lines, functions of at most 60 and no function above
cyclomatic complexity 20, httpx behind client.py alone,
and the README's layout list naming every module of the package."""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "reconciler"
SCRIPT = ROOT / "scripts" / "check_sizes.py"


def _check_sizes() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_sizes", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_module_is_over_500_lines_no_function_over_60_and_none_over_complexity_20() -> None:
    found = [line.removeprefix(f"{ROOT}/") for line in _check_sizes().oversized(PACKAGE)]
    assert found == []


def test_the_size_check_names_a_long_module_and_a_long_function_and_exits_1(tmp_path: Path) -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(60))
    (tmp_path / "long_function.py").write_text(f"def too_long() -> None:\n{body}")
    (tmp_path / "long_module.py").write_text("".join(f"y{i} = {i}\n" for i in range(501)))
    (tmp_path / "fine.py").write_text("def short() -> None:\n    pass\n")
    run = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True, text=True, check=False)
    assert run.returncode == 1
    assert "long_module.py: module of 501 lines" in run.stdout
    assert "long_function.py:1: function too_long of 61 lines" in run.stdout
    assert "fine.py" not in run.stdout
    clean = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "none")], capture_output=True, check=False)
    assert clean.returncode == 0


def _imports(path: Path) -> set[str]:
    """The top-level names of every module ``path`` imports, at any depth of its code."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_httpx_is_imported_by_the_client_and_its_transport_alone() -> None:
    importers = {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py") if "httpx" in _imports(p)}
    assert importers == {"buddy/client.py", "buddy/transport.py"}


def _development_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## Development")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def test_the_readme_layout_names_every_module_and_only_modules_that_exist() -> None:
    named = set(re.findall(r"`([a-z_/]+\.py)`", _development_section()))
    modules = {
        p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("*.py")
        if not p.name.startswith("__") and p.relative_to(PACKAGE).parts[0] != "sandbox"
    }
    assert named >= modules, f"not in the README's layout: {sorted(modules - named)}"
    scripts = {p.relative_to(ROOT).as_posix() for d in ("scripts", "tests") for p in (ROOT / d).glob("*.py")}
    scripts |= {p.name for p in (ROOT / "scripts").glob("*.py")}
    assert named - modules <= scripts, f"named but not a module: {sorted(named - modules - scripts)}"
