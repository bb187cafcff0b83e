"""Print the package's modules by import level, and every import that points back up the stages.

Usage: ``python scripts/import_levels.py [DIR]`` (default ``reconciler``; the simulator, ``sandbox/``,
left out). A module's level is 0 when it imports nothing of the package at its top, else one more
than the highest level it imports; imports inside functions (made when a command needs them) and
under ``TYPE_CHECKING`` do not count. The stages run config → buddy → plan → importer → the top
(apply, render, engine and their helpers) → cli, over the ground (the modules beside them that are
none of these); an import from a later stage into an earlier one is listed as pointing back up.
"""

from __future__ import annotations

import ast
import sys
from functools import cache
from pathlib import Path

#: the stages in the order the data flows; a module may import from its own stage and earlier ones
STAGES = ("ground", "config", "buddy", "plan", "importer", "top", "cli")
TOP = frozenset({"apply", "render", "engine", "annotate", "render_markdown", "crash", "uncertain", "saved"})


def modules(root: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] != "sandbox" and not path.name.startswith("__"):
            found["/".join(rel.with_suffix("").parts)] = path
    return found


def imports(path: Path, known: dict[str, Path], package: str) -> set[str]:
    """The modules of ``known`` that ``path`` imports at its top."""
    found: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            if name.startswith(package + "."):
                module = name.removeprefix(package + ".").replace(".", "/")
                if module in known:
                    found.add(module)
    return found


def stage(module: str) -> str:
    head = module.split("/")[0]
    if "/" in module:
        return head
    return "top" if head in TOP else "ground"


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else "reconciler")
    known = modules(root)
    deps = {m: imports(p, known, root.name) - {m} for m, p in known.items()}

    @cache
    def level(module: str) -> int:
        return 1 + max((level(d) for d in deps[module]), default=-1)

    levels: dict[int, list[str]] = {}
    for module in known:
        levels.setdefault(level(module), []).append(module)
    for number in sorted(levels, reverse=True):
        print(f"{number:2}  {', '.join(sorted(levels[number]))}")
    back = sorted(
        f"{m} -> {d}" for m, ds in deps.items() for d in ds if STAGES.index(stage(d)) > STAGES.index(stage(m))
    )
    print(f"{len(known)} modules on {len(levels)} levels; pointing back up: {', '.join(back) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
