"""What the config files already under an import's output directory, or in its repository, say: the
pipelines they declare (a second declaration would make the directory invalid), the variables they
reference (which stand for other values, unless they stand for the same credential or build secret:
``repository_names``)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler import envrefs
from reconciler.config.defaults import apply_defaults
from reconciler.config.loader import Document, load_paths
from reconciler.errors import EnvError
from reconciler.importer.envnames import Key, Known, credential_key, secret_key
from reconciler.importer.inherited import shown_path
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


@dataclass
class RepositoryNames:
    """The variables the repository's files reference (``taken``), and which of them stands for which
    credential or build secret (``known``)."""

    taken: set[str] = field(default_factory=set)
    known: dict[Key, Known] = field(default_factory=dict)


def repository_root(output: Path) -> Path:
    """The repository ``output`` lies in: the nearest folder at or above it that holds ``.git``; else
    ``output`` itself."""
    start = Path(os.path.realpath(output))
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return start


def _sole_reference(value: Any) -> str | None:
    """The variable when ``value`` is exactly one ``${env:NAME}`` (no default, nothing around it)."""
    if not isinstance(value, str):
        return None
    refs = envrefs.find_refs(value)
    if len(refs) == 1 and refs[0].default is None and refs[0].span == (0, len(value)):
        return refs[0].name
    return None


def _as_live(action: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any] | None:
    """The action's login fields as Buddy holds them: references resolved from ``env``; ``None`` when
    one cannot be (its value is unknown here, so it matches nothing)."""
    try:
        return {k: envrefs.resolve(action.get(k), env) for k in ("docker_registry", "registry", "login", "integration")}
    except EnvError:
        return None


def _action_names(action: Mapping[str, Any], env: Mapping[str, str]) -> list[tuple[Key, str]]:
    """Each credential or build secret of one declared action whose value is one variable."""
    live = _as_live(action, env)
    if live is None:
        return []
    found: list[tuple[Key, str]] = []
    password = _sole_reference(action.get("password"))
    if password is not None:
        found.append((credential_key(live), password))
    secrets = action.get("secrets")
    for secret in secrets if isinstance(secrets, list) else []:
        name = _sole_reference(secret.get("value")) if isinstance(secret, Mapping) else None
        if name is not None and isinstance(secret.get("id"), str):
            found.append((secret_key(live, secret["id"]), name))
    return found


def _document_names(doc: Document, env: Mapping[str, str], names: RepositoryNames) -> None:
    data = doc.data
    pipelines = data.get("pipelines") if isinstance(data, dict) else None
    for i, pipeline in enumerate(pipelines if isinstance(pipelines, list) else []):
        actions = pipeline.get("actions") if isinstance(pipeline, dict) else None
        for j, action in enumerate(actions if isinstance(actions, list) else []):
            if not isinstance(action, dict):
                continue
            for key, name in _action_names(action, env):
                names.known.setdefault(key, Known(name, str(doc.locate(("pipelines", i, "actions", j)))))


def repository_names(output: Path, written: Sequence[Path], env: Mapping[str, str]) -> RepositoryNames:
    """What the config files of ``output``'s repository (``repository_root``), other than those about to
    be ``written``, reference: every variable, and for each credential and build secret (defaults
    applied, login references resolved from ``env``) the first variable that stands for it."""
    root = repository_root(output)
    names = RepositoryNames()
    if not root.is_dir():
        return names
    skip = {Path(os.path.realpath(p)) for p in written}
    documents = [d for d in load_paths([root]).documents if Path(os.path.realpath(d.file)) not in skip]
    names.taken = {name for doc in documents for name in envrefs.referenced_names(doc.data)}
    for doc in apply_defaults(documents):
        _document_names(doc, env, names)
    return names


def inherited_names(written: Sequence[Path]) -> dict[str, str]:
    """The variables the ``written`` files need beyond their own: those their actions inherit from a
    defaults file (name → where it is written), as a plan of them will resolve them."""
    needed: dict[str, str] = {}
    for doc in apply_defaults(load_paths(list(written)).documents):
        for path, origin in doc.inherited.items():
            value: Any = doc.data
            for part in path:
                value = value[part]
            for name in envrefs.referenced_names(value):
                needed.setdefault(name, f"inherited from the defaults in {shown_path(Path(origin.file))}")
    return needed
