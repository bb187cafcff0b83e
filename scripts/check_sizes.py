"""Print the modules over 600 lines and the functions over 80 lines under a directory; exit 1 if any.

Usage: ``python scripts/check_sizes.py [DIR]`` (default ``reconciler``). A function's length runs from
its first decorator (or ``def``) to its last line, nested functions included; a nested function is
also measured on its own.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


def _functions(tree: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def oversized(root: Path) -> list[str]:
    """One line per module over ``MAX_MODULE_LINES`` and per function over ``MAX_FUNCTION_LINES``."""
    found: list[str] = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES:
            found.append(f"{path}: module of {lines} lines (limit {MAX_MODULE_LINES})")
        for func in _functions(ast.parse(text, filename=str(path))):
            start = min([func.lineno, *(d.lineno for d in func.decorator_list)])
            length = (func.end_lineno or func.lineno) - start + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{path}:{start}: function {func.name} of {length} lines (limit {MAX_FUNCTION_LINES})")
    return found


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else "reconciler")
    found = oversized(root)
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
