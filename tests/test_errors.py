"""The error tree drawn in errors.py is the tree the classes make: every exception of the package in it."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

from reconciler import errors

PACKAGE = Path(errors.__file__).parent


def drawn() -> dict[str, str]:
    """Class name → its parent's, as the module docstring draws them."""
    parents: dict[str, str] = {}
    stack: list[str] = []
    for line in (errors.__doc__ or "").splitlines():
        found = re.match(r"^ {4}((?:[│ ] {3})*)(?:[├└]── )?([A-Z]\w+)\b", line)
        if not found:
            continue
        depth = len(found.group(1)) // 4 + (1 if "──" in line else 0)
        del stack[depth:]
        if stack:
            parents[found.group(2)] = stack[-1]
        stack.append(found.group(2))
    return parents


def test_the_drawing_in_errors_py_is_the_class_tree() -> None:
    classes = {
        name: cls
        for name, cls in vars(errors).items()
        if inspect.isclass(cls) and issubclass(cls, errors.ReconcilerError) and cls.__module__ == errors.__name__
    }
    actual = {name: cls.__bases__[0].__name__ for name, cls in classes.items() if cls is not errors.ReconcilerError}
    assert drawn() == actual


#: signals that never leave the module raising them (private ones, by their leading ``_``, need no line)
SIGNALS = ["config/fastcheck.py:Unsupported"]  # a schema part the fast check cannot compile: jsonschema's then


def test_every_public_exception_class_of_the_package_outside_the_sandbox_is_in_the_tree() -> None:
    outside: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).parts[0] == "sandbox":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.ClassDef)
                and any(isinstance(b, ast.Name) and b.id in ("Exception", "BaseException") for b in node.bases)
                and not node.name.startswith("_")
            ):
                outside.append(f"{path.relative_to(PACKAGE)}:{node.name}")
    assert outside == sorted(["errors.py:ReconcilerError", *SIGNALS])
