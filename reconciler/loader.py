"""YAML files → plain data that remembers where every value came from.

INTERFACE STUB: being implemented (issue 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.problems import Location, Problem

PathKey = tuple[str | int, ...]


@dataclass
class Document:
    """One config file: its data (plain dicts/lists/scalars) and the location of every node.

    ``locations[path]`` is where the value at ``path`` starts; ``key_locations[path]`` is where the
    mapping key naming it starts (for mapping entries only)."""

    file: str
    data: Any
    locations: dict[PathKey, Location] = field(default_factory=dict)
    key_locations: dict[PathKey, Location] = field(default_factory=dict)

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


@dataclass
class LoadResult:
    documents: list[Document]
    problems: list[Problem]  # errors (unreadable files) and warnings (2024 spellings)
    skipped: list[str]  # files seen in a directory scan that are not config files


def load_paths(paths: list[str | Path]) -> LoadResult:
    raise NotImplementedError
