"""Pure: what changed *inside* one field, element by element, as Terraform shows nested diffs.

``changes`` walks two values of a field (the live one and the declared one) and returns one
``PathChange`` per leaf that differs (``permissions.users[1].access_level``), per list element added
or removed (``build_args[2]``). ``field_lines`` turns the same walk into the lines a reader sees: a
changed list of plain values with its removed elements ``-`` and added ones ``+`` on their own lines
(long runs of unchanged ones elided with a count), a nested change as its path and ``old -> new``, a
long or multi-line string as a line diff. Nothing here knows which fields are secret: callers mask
first (``render`` and ``diff`` ask ``fields``).
"""

from __future__ import annotations

import difflib
import json
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Op = Literal["change", "add", "remove"]
#: A line of a field's diff: its marker (``~`` a change, ``-`` removed, ``+`` added, `` `` unchanged
#: context, ``…`` an elision note) and its text, relative to the field (no indentation).
FieldLine = tuple[str, str]

#: Runs of at least this many unchanged list elements are elided (with a count) ...
ELIDE_RUN = 4
#: ... and an unchanged element is kept as context only this close to a change.
CONTEXT = 1
#: A string longer than this (or holding a newline) is shown as a line diff, wrapped at WRAP.
LONG_STRING = 80
WRAP = 100


@dataclass(frozen=True)
class PathChange:
    """One difference at ``path``: a leaf changed, or a list element / object key added or removed."""

    path: str
    op: Op
    before: Any = None
    after: Any = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path, "op": self.op}
        if self.op != "add":
            data["from"] = self.before
        if self.op != "remove":
            data["to"] = self.after
        return data


def is_container(value: Any) -> bool:
    """An object or a list: compared element by element rather than as one value."""
    return isinstance(value, (Mapping, list, tuple))


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _plain_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and not any(is_container(v) for v in value)


# -- the walk ---------------------------------------------------------------------------------------


#: DeepDiff's report kinds, as the ops a reader sees
_OPS: dict[str, Op] = {
    "values_changed": "change",
    "type_changes": "change",
    "dictionary_item_added": "add",
    "iterable_item_added": "add",
    "dictionary_item_removed": "remove",
    "iterable_item_removed": "remove",
}


def changes(path: str, before: Any, after: Any) -> list[PathChange]:
    """Every difference between ``before`` and ``after``, below ``path`` (the field's name), in the
    order of the paths. DeepDiff does the walk; it aligns list elements (an element inserted in the
    middle is one addition, not a change of every later element)."""
    if _key(before) == _key(after):
        return []
    if not (is_container(before) and is_container(after)) or isinstance(before, Mapping) != isinstance(after, Mapping):
        return [PathChange(path, "change", before, after)]
    from deepdiff import DeepDiff  # here, not at import: validate and most plans never need it

    found: list[tuple[tuple[Any, ...], PathChange]] = []
    tree = DeepDiff(before, after, view="tree", verbose_level=2)
    for report, op in _OPS.items():
        for level in tree.get(report, ()):
            steps = tuple(level.path(output_format="list"))
            old = None if op == "add" else level.t1
            new = None if op == "remove" else level.t2
            found.append((steps, PathChange(_spelled(path, steps), op, old, new)))
    found.sort(key=lambda item: _position(before, after, item[0]))
    return [change for _steps, change in found]


def _position(before: Any, after: Any, steps: Sequence[Any]) -> tuple[int, ...]:
    """Where a path stands when the declared value is read top down: list elements by index, keys in
    the declared order, keys only the live side has after them."""
    position: list[int] = []
    for step in steps:
        if isinstance(step, int):
            position.append(step)
        else:
            keys = list(after) if isinstance(after, Mapping) else []
            keys += [k for k in before if k not in keys] if isinstance(before, Mapping) else []
            position.append(keys.index(step) if step in keys else len(keys))
        before, after = _child(before, step), _child(after, step)
    return tuple(position)


def _child(value: Any, step: Any) -> Any:
    if isinstance(step, int):
        return value[step] if isinstance(value, (list, tuple)) and step < len(value) else None
    return value.get(step) if isinstance(value, Mapping) else None


def _spelled(path: str, steps: Sequence[Any]) -> str:
    """``permissions`` + ``("users", 1, "access_level")`` → ``permissions.users[1].access_level``."""
    return path + "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in steps)


# -- lines for a reader ------------------------------------------------------------------------------


def show(value: Any) -> str:
    """A value on one line: a string bare (``""`` when empty), anything else as compact JSON."""
    if isinstance(value, str):
        return value if value else '""'
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)


def _quoted(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str) if isinstance(value, str) else show(value)


def is_long(value: Any) -> bool:
    """A string shown as a line diff rather than as ``before -> after`` (see ``LONG_STRING``)."""
    return isinstance(value, str) and (len(value) > LONG_STRING or "\n" in value)


def field_lines(name: str, before: Any, after: Any) -> list[FieldLine]:
    """The lines that show field ``name`` going from ``before`` to ``after`` (both already masked).

    A plain change is one line ``name  old -> new`` (marker ``~``, text ``name``, ``old -> new``
    joined by the caller's column: see ``split_change``)."""
    if is_long(before) or is_long(after):
        return [("~", name), *_text_lines(before, after)]
    if _plain_list(before) and _plain_list(after):
        return [("~", name), *_element_lines(list(before), list(after))]
    if (isinstance(before, Mapping) and isinstance(after, Mapping)) or _both_lists(before, after):
        return [line for change in changes(name, before, after) for line in _path_lines(change)]
    return [("~", f"{name}\t{show(before)} -> {show(after)}")]


def _both_lists(before: Any, after: Any) -> bool:
    return isinstance(before, (list, tuple)) and isinstance(after, (list, tuple))


def split_change(text: str) -> tuple[str, str | None]:
    """A ``~`` line's path and its ``old -> new`` part (``None`` for a heading line)."""
    path, sep, rest = text.partition("\t")
    return (path, rest) if sep else (text, None)


def _path_lines(change: PathChange) -> list[FieldLine]:
    if change.op == "add":
        return [("+", f"{change.path}\t{show(change.after)}")]
    if change.op == "remove":
        return [("-", f"{change.path}\t{show(change.before)}")]
    if is_long(change.before) or is_long(change.after):
        return [("~", change.path), *_text_lines(change.before, change.after)]
    return [("~", f"{change.path}\t{show(change.before)} -> {show(change.after)}")]


def _element_lines(before: Sequence[Any], after: Sequence[Any]) -> list[FieldLine]:
    """A list of plain values: removed ``-``, added ``+``, unchanged once, long unchanged runs elided."""
    matcher = difflib.SequenceMatcher(None, [_key(v) for v in before], [_key(v) for v in after], autojunk=False)
    opcodes = matcher.get_opcodes()
    lines: list[FieldLine] = []
    for index, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag != "equal":
            lines.extend(("-", _quoted(v)) for v in before[i1:i2])
            lines.extend(("+", _quoted(v)) for v in after[j1:j2])
            continue
        lines.extend(_context(list(after[j1:j2]), first=index == 0, last=index == len(opcodes) - 1, fmt=_quoted))
    return lines


def _context(
    run: list[Any], *, first: bool, last: bool, fmt: Callable[[Any], str], noun: str = "element"
) -> list[FieldLine]:
    """An unchanged run: whole when short, else the ``CONTEXT`` elements next to changes and a count."""
    if len(run) < ELIDE_RUN:
        return [(" ", fmt(v)) for v in run]
    head = [] if first else run[:CONTEXT]
    tail = [] if last else run[len(run) - CONTEXT :]
    hidden = len(run) - len(head) - len(tail)
    return [
        *((" ", fmt(v)) for v in head),
        ("…", f"… {hidden} unchanged {noun}{'' if hidden == 1 else 's'}"),
        *((" ", fmt(v)) for v in tail),
    ]


def _text_lines(before: Any, after: Any) -> list[FieldLine]:
    """Two strings as a line diff; a long line is wrapped so that no line passes ``WRAP``."""
    old, new = _as_text_lines(before), _as_text_lines(after)
    lines: list[FieldLine] = []
    opcodes = difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes()
    for index, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal":
            last = index == len(opcodes) - 1
            lines.extend(_context(new[j1:j2], first=index == 0, last=last, fmt=str, noun="line"))
            continue
        lines.extend(("-", line) for line in old[i1:i2])
        lines.extend(("+", line) for line in new[j1:j2])
    return lines


def _as_text_lines(value: Any) -> list[str]:
    if value is None:
        return []
    text = value if isinstance(value, str) else show(value)
    out: list[str] = []
    for line in text.split("\n"):
        out.extend(textwrap.wrap(line, WRAP, break_long_words=True, drop_whitespace=False) or [""])
    return out
