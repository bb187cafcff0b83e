"""Located problems: what validation reports, one per finding, each with file:line:col and a JSON path."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Location:
    """A position in a file; ``line`` and ``col`` are 1-based."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


_LEADING = re.compile(r"^(?P<file>[^\s:()][^:()]*?):(?P<line>\d+):(?P<col>\d+): ")
_EMBEDDED = re.compile(r"\((?P<file>[^\s:()][^:()]*?):(?P<line>\d+):(?P<col>\d+)\)")


def split_location(message: str) -> tuple[Location | None, str]:
    """The place a message names, as ``str(Location)`` writes it: leading (``web.yml:6:9: …``, taken
    off the message) or in parentheses inside it (``… (web.yml:6:9) …``, left in); else ``None``."""
    found = _LEADING.match(message)
    if found:
        return _location(found), message[found.end() :]
    found = _EMBEDDED.search(message)
    return (_location(found), message) if found else (None, message)


def _location(found: re.Match[str]) -> Location:
    return Location(found["file"], int(found["line"]), int(found["col"]))


@dataclass(frozen=True)
class Problem:
    """One finding: where it is, the JSON path of the offending value, and what is wrong."""

    location: Location
    path: str  # JSONPath-like, e.g. "$.pipelines[0].actions[1].cache_mode"
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{self.location}: {self.path}: {prefix}{self.message}"

    @property
    def unmarked(self) -> str:
        """Where and what, without the severity: for a list that says it (a plan's warnings)."""
        return f"{self.location}: {self.path}: {self.message}"


#: validate shows at most this many problems of one file, then how many more there are (the count is kept)
MAX_PROBLEMS_PER_FILE = 200

#: a key longer than this is shown cut short: a megabyte-long key must not make a megabyte-long message
MAX_SHOWN_KEY = 80


def json_path(parts: tuple[str | int, ...] | list[str | int]) -> str:
    """Render a path of keys and indexes as ``$.a.b[0].c``."""
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{shown_key(part)}"
    return out


def shown_key(key: str) -> str:
    """``key`` for a path or a message: whole, or its start and ``…`` when longer than ``MAX_SHOWN_KEY``."""
    return key if len(key) <= MAX_SHOWN_KEY else f"{key[:MAX_SHOWN_KEY]}…"


def sort_problems(problems: list[Problem]) -> list[Problem]:
    """Order by file, line, column; stable for ties so related messages stay together."""
    return sorted(problems, key=lambda p: (p.location.file, p.location.line, p.location.col))


def cap_per_file(problems: list[Problem], cap: int = MAX_PROBLEMS_PER_FILE) -> Iterator[Problem | tuple[str, int]]:
    """``problems`` in their order, at most ``cap`` of each file; right after a file's last one shown,
    ``(file, how many more)`` when some of it were left out."""
    totals = Counter(p.location.file for p in problems)
    counts: Counter[str] = Counter()
    for problem in problems:
        file = problem.location.file
        counts[file] += 1
        if counts[file] <= cap:
            yield problem
        if counts[file] == cap and totals[file] > cap:
            yield file, totals[file] - cap
