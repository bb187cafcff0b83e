"""The 2024 spellings of a loaded document, rewritten into the 2026 ones before the schema sees them.

Buddy's 2024 reference page spelled a few things differently (`domain` for the workspace,
`secret_id`/`secret_src`, `integration_hash`, `target_platform` as a list). A file written that way is
still read: ``translate_2024`` rewrites the document in place and reports each translation as a warning
that shows the 2026 spelling. Translated values keep the locations of what was written, so any later
problem still points at the user's own text.
"""

from __future__ import annotations

from typing import Any

from reconciler.located import Document, PathKey, drop_locations, move_locations
from reconciler.problems import Location, Problem, json_path


def translate_2024(doc: Document) -> list[Problem]:
    """Rewrite the 2024 spellings of ``doc`` in place into the 2026 ones; warn for each.

    Translated values keep the locations of what was written, so later problems still point at the
    user's own text. Where both spellings are given, the 2024 one is dropped with an error."""
    problems: list[Problem] = []
    data = doc.data
    if not isinstance(data, dict):
        return problems
    if "domain" in data:
        path: PathKey = ("domain",)
        where = doc.locate(path, key=True)
        if "workspace" in data:
            problems.append(
                Problem(
                    where,
                    json_path(path),
                    "both `domain` (the 2024 spelling) and `workspace` are given; keep only `workspace`",
                )
            )
            _remove_key(doc, (), "domain")
        else:
            value = data["domain"]
            shown = f"workspace: {value}" if isinstance(value, str) else "workspace: …"
            problems.append(
                Problem(where, json_path(path), f"`domain` is the 2024 spelling; write `{shown}`", "warning")
            )
            _rename_key(doc, (), "domain", "workspace")
    for path, action in _partial_actions(data):
        problems.extend(_translate_action(doc, path, action))
    return problems


def _partial_actions(data: dict[str, Any]) -> list[tuple[PathKey, dict[str, Any]]]:
    """Every action and every defaults block (a partial action) of a document, with its path."""
    found: list[tuple[PathKey, Any]] = [(("defaults",), data.get("defaults"))]
    pipelines = data.get("pipelines")
    for i, pipeline in enumerate(pipelines if isinstance(pipelines, list) else []):
        if not isinstance(pipeline, dict):
            continue
        found.append((("pipelines", i, "defaults"), pipeline.get("defaults")))
        actions = pipeline.get("actions")
        found.extend(
            (("pipelines", i, "actions", j), a) for j, a in enumerate(actions if isinstance(actions, list) else [])
        )
    return [(path, value) for path, value in found if isinstance(value, dict)]


def _translate_action(doc: Document, base: PathKey, action: dict[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    if "secret_id" in action or "secret_src" in action:
        _translate_secret(doc, base, action, problems)
    if "integration_hash" in action:
        _translate_integration(doc, base, action, problems)
    platforms = action.get("target_platform")
    if isinstance(platforms, list) and platforms and all(isinstance(p, str) for p in platforms):
        _translate_platforms(doc, base, action, platforms, problems)
    return problems


def _translate_secret(doc: Document, base: PathKey, action: dict[str, Any], problems: list[Problem]) -> None:
    first = "secret_id" if "secret_id" in action else "secret_src"
    where = doc.locate((*base, first), key=True)
    if "secrets" in action:
        problems.append(
            Problem(
                where,
                json_path((*base, first)),
                "both `secret_id`/`secret_src` (the 2024 spelling) and `secrets` are given; keep only `secrets`",
            )
        )
        for old in ("secret_id", "secret_src"):
            if old in action:
                _remove_key(doc, base, old)
    else:
        # In 2024 `secret_src` named the file that holds the secret (the page's example is a path),
        # which is what a FILE secret is today; so the translation picks type FILE.
        entry: dict[str, Any] = {}
        entry_path: PathKey = (*base, "secrets", 0)
        moves: list[tuple[str, PathKey]] = []
        if "secret_id" in action:
            entry["id"] = action["secret_id"]
            moves.append(("secret_id", (*entry_path, "id")))
        if "secret_src" in action:
            entry["value"] = action["secret_src"]
            moves.append(("secret_src", (*entry_path, "value")))
        entry["type"] = "FILE"
        shown_id = action.get("secret_id") if isinstance(action.get("secret_id"), str) else "…"
        # The value is never shown: `secrets[].value` is a write-only field.
        problems.append(
            Problem(
                where,
                json_path((*base, first)),
                "`secret_id`/`secret_src` are the 2024 spelling; write "
                f"`secrets: [{{id: {shown_id}, value: <secret_src>, type: FILE}}]`",
                "warning",
            )
        )
        _replace_keys(
            doc,
            base,
            ("secret_id", "secret_src"),
            "secrets",
            [entry],
            moves,
            extra={(*base, "secrets"): where, entry_path: where, (*entry_path, "type"): where},
        )


def _translate_integration(doc: Document, base: PathKey, action: dict[str, Any], problems: list[Problem]) -> None:
    where = doc.locate((*base, "integration_hash"), key=True)
    if "integration" in action:
        problems.append(
            Problem(
                where,
                json_path((*base, "integration_hash")),
                "both `integration_hash` (the 2024 spelling) and `integration` are given; keep only `integration`",
            )
        )
        _remove_key(doc, base, "integration_hash")
    else:
        value = action["integration_hash"]
        shown = value if isinstance(value, str) else "…"
        problems.append(
            Problem(
                where,
                json_path((*base, "integration_hash")),
                f"`integration_hash` is the 2024 spelling; write `integration: {{identifier: {shown}}}`",
                "warning",
            )
        )
        value_loc = doc.locate((*base, "integration_hash"))
        _replace_keys(
            doc,
            base,
            ("integration_hash",),
            "integration",
            {"identifier": value},
            [("integration_hash", (*base, "integration", "identifier"))],
            extra={(*base, "integration"): value_loc},
        )
        doc.key_locations[(*base, "integration", "identifier")] = where


def _translate_platforms(
    doc: Document, base: PathKey, action: dict[str, Any], platforms: list[str], problems: list[Problem]
) -> None:
    joined = ",".join(p.strip() for p in platforms)
    path = (*base, "target_platform")
    problems.append(
        Problem(
            doc.locate(path, key=True),
            json_path(path),
            f'a list of platforms is the 2024 spelling; write `target_platform: "{joined}"`',
            "warning",
        )
    )
    for i in range(len(platforms)):
        doc.locations.pop((*path, i), None)
    action["target_platform"] = joined


def _remove_key(doc: Document, base: PathKey, key: str) -> None:
    container = _get(doc.data, base)
    drop_locations(container.pop(key), (*base, key), (doc.locations, doc.key_locations))


def _rename_key(doc: Document, base: PathKey, old: str, new: str) -> None:
    _replace_keys(doc, base, (old,), new, _get(doc.data, base)[old], [(old, (*base, new))])


def _replace_keys(
    doc: Document,
    base: PathKey,
    olds: tuple[str, ...],
    new: str,
    value: Any,
    moves: list[tuple[str, PathKey]],
    extra: dict[PathKey, Location] | None = None,
) -> None:
    """Put ``new: value`` where the first of ``olds`` stood (key order is kept), drop ``olds``, and move
    the recorded locations of each moved old key's value to its new path."""
    container = _get(doc.data, base)
    present = [k for k in olds if k in container]
    first_key_loc = doc.key_locations.get((*base, present[0]))
    tables = (doc.locations, doc.key_locations)
    for old_key, new_path in moves:
        move_locations(container[old_key], (*base, old_key), new_path, tables)
    for k in present:
        doc.locations.pop((*base, k), None)
        doc.key_locations.pop((*base, k), None)
    rebuilt: dict[str, Any] = {}
    for k, v in container.items():
        if k == present[0]:
            rebuilt[new] = value
        if k not in olds:
            rebuilt[k] = v
    container.clear()
    container.update(rebuilt)
    if first_key_loc is not None:
        doc.key_locations[(*base, new)] = first_key_loc
    for p, loc in (extra or {}).items():
        doc.locations[p] = loc


def _get(data: Any, path: PathKey) -> Any:
    for part in path:
        data = data[part]
    return data
