"""Did-you-mean: the live name closest to a declared one, where slips happen (a pipeline's name, an
action named by ``after:``). Pure; the callers word the warning or the error."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

#: At most this many single-character edits apart (insert, delete, replace), ignoring case.
MAX_EDITS = 2


def distance(left: str, right: str) -> int:
    """The edit distance (Levenshtein) between two strings."""
    previous = list(range(len(right) + 1))
    for i, a in enumerate(left, 1):
        current = [i]
        for j, b in enumerate(right, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b)))
        previous = current
    return previous[-1]


def near(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate ``word`` was probably meant to be: equal ignoring case, else at most
    ``MAX_EDITS`` edits apart (ignoring case, and fewer than half of ``word``); the nearest wins."""
    best: tuple[int, str] | None = None
    for candidate in candidates:
        if candidate == word:
            continue
        edits = distance(word.casefold(), candidate.casefold())
        if edits <= MAX_EDITS and edits * 2 < max(len(word), 1) and (best is None or edits < best[0]):
            best = (edits, candidate)
    return best[1] if best else None


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """``near``, else the most similar candidate by ``difflib`` (for a hint in an error)."""
    names = [c for c in candidates if c != word]
    found = near(word, names)
    if found is not None:
        return found
    matches = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    return matches[0] if matches else None


def hint(suggestion: str | None) -> str:
    """``; did you mean "X"?`` or nothing."""
    return f'; did you mean "{suggestion}"?' if suggestion else ""
