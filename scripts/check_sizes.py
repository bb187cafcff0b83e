"""Print the modules, functions and branchy functions over the limits under a directory; exit 1 if any.

Usage: ``python scripts/check_sizes.py [DIR] [--module-lines N] [--function-lines N] [--complexity N]``
(default ``reconciler``, 500 lines, 60 lines, cyclomatic complexity 20). A function's length runs from
its first decorator (or ``def``) to its last line, nested functions included; a nested function is
also measured on its own.

A function's cyclomatic complexity is counted here, on the ``ast``, with radon's rules (so that
``radon cc`` and this check agree, without radon as a dependency): 1, plus one per ``if``, ``elif``
and conditional expression, per ``for`` and ``while`` (and their ``else``), per ``except`` (and a
``try``'s ``else``), per ``assert`` (not what it holds), per comprehension and each of its ``if``s, per ``case`` but a
catch-all, and one per extra operand of ``and``/``or``. A nested function or class counts on its own,
not in the function around it; a ``lambda``'s branches count in the function holding it.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60
MAX_COMPLEXITY = 20

Function = ast.FunctionDef | ast.AsyncFunctionDef


def _functions(tree: ast.AST) -> Iterator[Function]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def _branches(node: ast.AST) -> int:
    """What one node adds to the complexity of the function holding it."""
    if isinstance(node, ast.Try):
        return len(node.handlers) + bool(node.orelse)
    if isinstance(node, ast.BoolOp):
        return len(node.values) - 1
    if isinstance(node, ast.If | ast.IfExp):
        return 1
    if isinstance(node, ast.For | ast.AsyncFor | ast.While):
        return 1 + bool(node.orelse)
    if isinstance(node, ast.comprehension):
        return 1 + len(node.ifs)
    if isinstance(node, ast.Match):
        catch_all = any(isinstance(c.pattern, ast.MatchAs) and c.pattern.pattern is None for c in node.cases)
        return max(0, len(node.cases) - catch_all)
    return 0


def complexity(func: Function) -> int:
    """The cyclomatic complexity of ``func`` (see the module docstring)."""
    total = 1
    pending: list[ast.AST] = list(func.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue  # measured on its own
        if isinstance(node, ast.Assert):
            total += 1  # one, whatever it holds (as radon counts it)
            continue
        total += _branches(node)
        pending.extend(ast.iter_child_nodes(node))
    return total


def oversized(
    root: Path,
    *,
    module_lines: int = MAX_MODULE_LINES,
    function_lines: int = MAX_FUNCTION_LINES,
    max_complexity: int = MAX_COMPLEXITY,
) -> list[str]:
    """One line per module over ``module_lines``, per function over ``function_lines`` and per
    function of a cyclomatic complexity over ``max_complexity``."""
    found: list[str] = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines > module_lines:
            found.append(f"{path}: module of {lines} lines (limit {module_lines})")
        for func in _functions(ast.parse(text, filename=str(path))):
            start = min([func.lineno, *(d.lineno for d in func.decorator_list)])
            length = (func.end_lineno or func.lineno) - start + 1
            if length > function_lines:
                found.append(f"{path}:{start}: function {func.name} of {length} lines (limit {function_lines})")
            branches = complexity(func)
            if branches > max_complexity:
                found.append(
                    f"{path}:{func.lineno}: function {func.name} of complexity {branches} (limit {max_complexity})"
                )
    return found


def _limit(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("a limit is at least 1")
    return value


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="check_sizes.py", description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", default="reconciler", help="the directory to check (default reconciler)")
    parser.add_argument("--module-lines", type=_limit, default=MAX_MODULE_LINES, metavar="N")
    parser.add_argument("--function-lines", type=_limit, default=MAX_FUNCTION_LINES, metavar="N")
    parser.add_argument("--complexity", type=_limit, default=MAX_COMPLEXITY, metavar="N")
    args = parser.parse_args(list(argv))
    found = oversized(
        Path(args.root),
        module_lines=args.module_lines,
        function_lines=args.function_lines,
        max_complexity=args.complexity,
    )
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
