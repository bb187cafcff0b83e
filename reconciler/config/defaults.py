"""Defaults for actions: at the directory, the file and the pipeline level, said once.

A *defaults file* holds ``defaults`` and no ``pipelines``; it applies to the config files of its
directory and below. A config file may hold ``defaults`` (for all its actions), and so may a pipeline.
Each block is a partial action. For every action, the levels apply from the outermost directory's file
inward, then the file's block, then the pipeline's, then the action's own keys: mappings merge key by
key, lists and scalars are replaced, and an action's explicit ``null`` stays ``null``. An action's
identity (``name``, ``after``, ``previous_names``) is never defaulted.

``apply_defaults`` rewrites each config document in place, so that the schema, the rules and the model
all see the effective action. Every value that came from a block keeps the location it was written at
(in the block's own file) and is remembered in ``Document.inherited``; ``relocate`` then reports a
problem with such a value at the block's own path, naming the action it reached.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from reconciler.located import Document, Inherited, PathKey, paths_within
from reconciler.problems import Location, Problem, Severity, json_path

#: Keys that are an action's identity: a defaults block cannot give them.
NOT_DEFAULTED = frozenset({"name", "after", "previous_names"})

_Layer = tuple[Document, PathKey]  # a defaults block: the document holding it and its path there


#: Keys that make a file a config file even when it has ``defaults`` (then a config that lacks some).
_CONFIG_KEYS = ("workspace", "project", "pipelines")


def is_defaults_file(doc: Document) -> bool:
    """A file with ``defaults`` and none of ``workspace``, ``project`` and ``pipelines``."""
    data = doc.data
    return isinstance(data, dict) and "defaults" in data and not any(key in data for key in _CONFIG_KEYS)


def apply_defaults(docs: list[Document]) -> list[Document]:
    """Apply every defaults block of ``docs`` to the actions it reaches; return the config documents
    (the defaults files left out), rewritten in place."""
    defaults_files = [doc for doc in docs if is_defaults_file(doc)]
    configs = [doc for doc in docs if not is_defaults_file(doc)]
    for doc in configs:
        _apply(doc, _directory_layers(doc, defaults_files))
    return configs


def _directory_layers(doc: Document, defaults_files: list[Document]) -> list[_Layer]:
    """The defaults files that reach ``doc``: in its directory or above, outermost first."""
    here = Path(doc.file).resolve().parent
    reaching: list[tuple[int, str, Document]] = []
    for candidate in defaults_files:
        if not _block(candidate, ("defaults",)):
            continue  # not a mapping (the schema reports it at the file) or empty: nothing to give
        folder = Path(candidate.file).resolve().parent
        if here == folder or folder in here.parents:
            reaching.append((len(folder.parts), candidate.file, candidate))
    reaching.sort(key=lambda item: (item[0], item[1]))
    return [(candidate, ("defaults",)) for _, _, candidate in reaching]


def _apply(doc: Document, outer: list[_Layer]) -> None:
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("pipelines"), list):
        return
    file_layers = [*outer, *_block(doc, ("defaults",))]
    for i, pipeline in enumerate(data["pipelines"]):
        if not isinstance(pipeline, dict) or not isinstance(pipeline.get("actions"), list):
            continue
        # Highest precedence first: each layer only fills what the ones before it left open.
        layers = list(reversed([*file_layers, *_block(doc, ("pipelines", i, "defaults"))]))
        if layers:
            _apply_to_actions(doc, ("pipelines", i, "actions"), pipeline["actions"], layers)


def _apply_to_actions(doc: Document, base: PathKey, actions: list[Any], layers: list[_Layer]) -> None:
    """Merge the layers once into the pipeline's effective defaults (with their locations, relative to
    an action), then give each action what it lacks: a repository of thousands of actions pays for
    the merge once per pipeline, not once per action."""
    merged: dict[str, Any] = {}
    scratch = Document(file=doc.file, data=None)
    for source, block_path in layers:
        _fill(scratch, (), merged, source, block_path, top=True)
    doc.sources.update(scratch.sources)
    rows: dict[str, list[tuple[dict[Any, Any], PathKey, Any]]] = {key: [] for key in merged}
    for table, found in (
        (doc.locations, scratch.locations),
        (doc.key_locations, scratch.key_locations),
        (doc.inherited, scratch.inherited),
    ):
        for path, value in found.items():
            rows[str(path[0])].append((table, path, value))
    order = _layout(merged, layers)
    for j, action in enumerate(actions):
        if not isinstance(action, dict):
            continue
        here = (*base, j)
        # Laid out as a person would write it: the name, the inherited keys, then the action's own.
        effective = {"name": action["name"]} if "name" in action else {}
        for key in order:
            if key not in action:
                value = merged[key]
                effective[key] = copy.deepcopy(value) if isinstance(value, dict | list) else value
                for table, path, entry in rows[key]:
                    table[here + path] = entry
        for key, value in action.items():
            effective[key] = value
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                for source, block_path in layers:  # a mapping both give: merged key by key
                    if isinstance(_get(source, block_path).get(key), dict):
                        _fill(doc, (*here, key), value, source, (*block_path, key), top=False)
        if len(effective) != len(action):
            action.clear()
            action.update(effective)


def _layout(merged: dict[str, Any], layers: list[_Layer]) -> list[str]:
    """The inherited keys in the order a person would write them: the outermost level's first, each in
    its block's order."""
    order: dict[str, None] = {}
    for source, block_path in reversed(layers):
        order.update((key, None) for key in _get(source, block_path) if key in merged)
    return list(order)


def _get(doc: Document, path: PathKey) -> Any:
    value: Any = doc.data
    for part in path:
        value = value[part]
    return value


def _block(doc: Document, path: PathKey) -> list[_Layer]:
    value: Any = doc.data
    for part in path:
        if isinstance(value, dict) and isinstance(part, str):
            value = value.get(part)
        elif isinstance(value, list) and isinstance(part, int) and part < len(value):
            value = value[part]
        else:
            return []
    return [(doc, path)] if isinstance(value, dict) and value else []


def _fill(
    doc: Document, target_path: PathKey, target: dict[str, Any], source: Document, block_path: PathKey, *, top: bool
) -> None:
    """Give ``target`` every key of the block at ``block_path`` (in ``source``) that it lacks; merge
    mappings that both have, recursively. Copied values carry their written locations along."""
    for key, value in _get(source, block_path).items():
        if top and key in NOT_DEFAULTED:
            continue  # the schema reports it at the block
        here, there = (*target_path, key), (*block_path, key)
        if key not in target:
            target[key] = copy.deepcopy(value) if isinstance(value, dict | list) else value
            _copy_locations(doc, here, source, there, value)
        elif isinstance(target[key], dict) and isinstance(value, dict):
            _fill(doc, here, target[key], source, there, top=False)


def _copy_locations(doc: Document, here: PathKey, source: Document, there: PathKey, value: Any) -> None:
    n = len(there)
    for path in paths_within(value, there):
        new = (*here, *path[n:])
        if path in source.locations:
            doc.locations[new] = source.locations[path]
        if path in source.key_locations:
            doc.key_locations[new] = source.key_locations[path]
    doc.inherited[here] = Inherited(source.file, there)
    if source is not doc and source.file in source.sources:
        doc.sources.setdefault(source.file, source.sources[source.file])


# ---------------------------------------------------------------------------------------------------
# Problems with inherited values


def relocate(checked: list[tuple[Document, list[Problem]]]) -> list[Problem]:
    """The problems of each document, those about an inherited value moved to the defaults block's own
    path and naming the action it reached. One bad default reaching many actions is one problem (it
    names the first action and counts the others), and replaces the block's own report of it."""
    plain: list[Problem] = []
    derived: dict[tuple[Location, str, str, Severity], list[str]] = {}
    for doc, problems in checked:
        if not problems:
            continue
        index = {json_path(path): (path, origin) for path, origin in doc.inherited.items()}
        for problem in problems:
            found = _origin(problem.path, index) if index else None
            if found is None:
                plain.append(problem)
                continue
            path, origin = found
            moved = json_path(origin.path) + problem.path[len(json_path(path)) :]
            key = (problem.location, moved, problem.message, problem.severity)
            derived.setdefault(key, []).append(_reached(doc, path))
    out = [p for p in plain if (p.location, p.path, p.message, p.severity) not in derived]
    for (location, where, message, severity), reached in derived.items():
        more = f", and {len(reached) - 1} more" if len(reached) > 1 else ""
        out.append(Problem(location, where, f"{message} (this default reaches {reached[0]}{more})", severity))
    return out


def _origin(path: str, index: dict[str, tuple[PathKey, Inherited]]) -> tuple[PathKey, Inherited] | None:
    """The inherited entry whose path is ``path`` or its nearest ancestor."""
    cut = len(path)
    while cut > 1:
        if path[:cut] in index:
            return index[path[:cut]]
        cut = max(path.rfind(".", 0, cut), path.rfind("[", 0, cut))
        if cut <= 0:
            return None
    return None


def _reached(doc: Document, path: PathKey) -> str:
    pipeline: Any = doc.data["pipelines"][path[1]]
    action: Any = pipeline["actions"][path[3]]
    name = action.get("name") if isinstance(action, dict) else None
    label = pipeline.get("name") or f"#{pipeline.get('id')}"
    return f'action "{name}" of pipeline "{label}" in {doc.file}'
