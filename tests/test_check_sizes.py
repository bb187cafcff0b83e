"""scripts/check_sizes.py: its limits as flags, and a cyclomatic complexity that agrees with radon's."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "check_sizes.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_sizes", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False)


BRANCHY = """\
def branchy(items, flag):
    total = 0
    for item in items:            # +1
        if item and flag:         # +1, +1 (and)
            total += 1
        elif item is None:        # +1
            total -= 1
    try:
        pass
    except ValueError:            # +1
        pass
    squares = [i for i in items if i]  # +2 (a comprehension and its if)
    assert all(i for i in items)  # +1, whatever it holds
    def nested():                 # counted on its own
        if flag:
            pass
    return total if flag else 0   # +1
"""


def test_a_function_of_complexity_over_the_limit_is_named_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / "branchy.py").write_text(BRANCHY)
    [func] = [n for n in ast.walk(ast.parse(BRANCHY)) if isinstance(n, ast.FunctionDef) and n.name == "branchy"]
    assert _script().complexity(func) == 10
    over = run(str(tmp_path), "--complexity", "9")
    assert over.returncode == 1
    assert over.stdout.strip().endswith("branchy.py:1: function branchy of complexity 10 (limit 9)")
    assert run(str(tmp_path), "--complexity", "10").returncode == 0


def test_the_line_limits_are_flags(tmp_path: Path) -> None:
    (tmp_path / "mod.py").write_text("def f() -> None:\n" + "".join(f"    x{i} = {i}\n" for i in range(9)))
    assert run(str(tmp_path), "--module-lines", "10", "--function-lines", "10").returncode == 0
    found = run(str(tmp_path), "--module-lines", "9", "--function-lines", "9")
    assert found.returncode == 1
    assert "mod.py: module of 10 lines (limit 9)" in found.stdout
    assert "mod.py:1: function f of 10 lines (limit 9)" in found.stdout
    assert run(str(tmp_path), "--complexity", "0").returncode == 2  # a limit is at least 1


def _radon_counts(blocks: list[Any], into: dict[tuple[int, str], int]) -> dict[tuple[int, str], int]:
    """(line, name) → radon's complexity, for every function and method of ``blocks``, nested ones too."""
    for block in blocks:
        if hasattr(block, "methods"):
            _radon_counts([*block.methods, *getattr(block, "inner_classes", [])], into)
        else:
            into[(block.lineno, block.name)] = block.complexity
            _radon_counts(block.closures, into)
    return into


def test_the_count_agrees_with_radon_on_every_function_of_the_project() -> None:
    complexity = pytest.importorskip("radon.complexity")
    script = _script()
    differ: list[str] = []
    for path in sorted([*(ROOT / "reconciler").rglob("*.py"), *(ROOT / "scripts").glob("*.py")]):
        text = path.read_text(encoding="utf-8")
        theirs = _radon_counts(complexity.cc_visit(text), {})
        for func in script._functions(ast.parse(text)):
            ours, radon = script.complexity(func), theirs.get((func.lineno, func.name))
            if radon is not None and radon != ours:
                differ.append(f"{path.name}:{func.lineno} {func.name}: radon {radon}, ours {ours}")
    assert differ == []


def test_the_import_levels_name_every_module_once_and_what_points_back_up() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "import_levels.py"), str(ROOT / "reconciler")],
        capture_output=True,
        text=True,
        check=True,
    )
    *levels, summary = run.stdout.strip().splitlines()
    named = [m for line in levels for m in line.split(None, 1)[1].split(", ")]
    assert len(named) == len(set(named)) and "errors" in named and "cli/main" in named
    assert levels[-1].split()[0] == "0" and "errors" in levels[-1]
    assert summary.startswith(f"{len(named)} modules on {len(levels)} levels; pointing back up: ")
