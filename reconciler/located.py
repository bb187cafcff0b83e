"""Data that remembers where it was written: a loaded document and the bookkeeping of its locations.

Every module that rewrites a loaded document (the 2024 translation, defaults) moves values from one
path to another; the helpers here move the recorded locations along with them, so that a problem found
later still points at the user's own text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from reconciler.problems import Location

PathKey = tuple[str | int, ...]
#: A plain scalar with no spaces (a number, a boolean), up to a flow indicator or a comment.
_PLAIN_TOKEN = re.compile(r"[^\s,\[\]{}#'\"]+")


@dataclass(frozen=True)
class Inherited:
    """Where an inherited value was written: the defaults block's file and its path there."""

    file: str
    path: PathKey


@dataclass
class Document:
    """One config file: its data (plain dicts/lists/scalars) and the location of every node.

    ``locations[path]`` is where the value at ``path`` starts; ``key_locations[path]`` is where the
    mapping key naming it starts (for mapping entries only). ``sources`` holds the text of the file (and
    of any other file a value came from, such as a defaults file), so that a message can quote a scalar
    exactly as it was written (``1.10``, which YAML reads as the number 1.1)."""

    file: str
    data: Any
    locations: dict[PathKey, Location] = field(default_factory=dict)
    key_locations: dict[PathKey, Location] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    #: Values an action took from a defaults block: the action's path of each → where it was written.
    inherited: dict[PathKey, Inherited] = field(default_factory=dict)

    def written(self, path: PathKey) -> str | None:
        """The plain scalar at ``path`` as the file spells it, when the source is known."""
        where = self.locations.get(tuple(path))
        text = self.sources.get(where.file) if where else None
        if where is None or text is None:
            return None
        lines = text.splitlines()
        if where.line > len(lines):
            return None
        found = _PLAIN_TOKEN.match(lines[where.line - 1], where.col - 1)
        return found.group(0) if found else None

    def locate(self, path: PathKey, *, key: bool = False) -> Location:
        """The location of ``path``, or of its nearest located ancestor."""
        parts = tuple(path)
        while True:
            if key and parts in self.key_locations:
                return self.key_locations[parts]
            if parts in self.locations:
                return self.locations[parts]
            if not parts:
                return Location(self.file, 1, 1)
            parts = parts[:-1]


def paths_within(value: Any, prefix: PathKey) -> Iterator[PathKey]:
    """``prefix`` and the path of every node inside ``value`` (walking the data, not the tables, keeps
    each move proportional to the size of what moves)."""
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from paths_within(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from paths_within(v, (*prefix, i))


def move_locations(value: Any, old: PathKey, new: PathKey, tables: tuple[dict[PathKey, Location], ...]) -> None:
    """Move the recorded locations of ``value`` (found at ``old``) and everything inside it to ``new``."""
    n = len(old)
    for p in list(paths_within(value, old)):
        for table in tables:
            if p in table:
                table[new + p[n:]] = table.pop(p)


def drop_locations(value: Any, prefix: PathKey, tables: tuple[dict[PathKey, Location], ...]) -> None:
    """Forget the recorded locations of ``value`` (found at ``prefix``) and everything inside it."""
    for p in list(paths_within(value, prefix)):
        for table in tables:
            table.pop(p, None)
