"""What the config files already under an import's output directory say: the pipelines they declare
(a second declaration would make the directory invalid) and the variables they reference (an earlier
import's names, which stand for other values)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from reconciler import envrefs
from reconciler.config.loader import load_paths
from reconciler.model import ImportedPipeline


def declared_elsewhere(
    output: Path, workspace: str, project: str, found: Sequence[ImportedPipeline], written: Sequence[Path]
) -> list[str]:
    """Where config files under ``output`` (other than those about to be ``written``) already declare
    one of the ``found`` pipelines, by name, id or previous name: one line per declaration."""
    if not output.is_dir():
        return []
    skip = {Path(os.path.realpath(p)) for p in written}
    by_name = {p.name: p for p in found}
    by_id = {p.id: p for p in found}
    lines: list[str] = []
    for doc in load_paths([output]).documents:
        data = doc.data
        if Path(os.path.realpath(doc.file)) in skip or not isinstance(data, dict):
            continue
        if (data.get("workspace"), data.get("project")) != (workspace, project):
            continue
        for i, item in enumerate(data.get("pipelines") or []):
            if not isinstance(item, dict):
                continue
            previous = item.get("previous_names")
            names = [item.get("name"), *(previous if isinstance(previous, list) else [])]
            ident = item.get("id")
            match = by_id.get(ident) if isinstance(ident, int) else None
            match = match or next((by_name[n] for n in names if isinstance(n, str) and n in by_name), None)
            if match is not None:
                where = doc.locate(("pipelines", i))
                lines.append(f'{workspace}/{project} pipeline "{match.name}" is already declared at {where}')
    return lines


def referenced_elsewhere(output: Path, written: Sequence[Path]) -> set[str]:
    """The variables config files under ``output`` (other than those about to be ``written``) already
    reference: an earlier import's names, which stand for other values and must not be reused."""
    if not output.is_dir():
        return set()
    skip = {Path(os.path.realpath(p)) for p in written}
    return {
        name
        for doc in load_paths([output]).documents
        if Path(os.path.realpath(doc.file)) not in skip
        for name in envrefs.referenced_names(doc.data)
    }
