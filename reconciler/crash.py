"""A bug met in the middle of an apply: told as what it did to the changes, never swallowed.

An exception outside the project's error tree (a bug in reconcile or in a library) during one change
leaves that change's outcome unknown (it may have been made), stops every change not yet started, and
is kept on the report (``ApplyReport.crashed``): the CLI prints the report of what was done, then
the bug (``cli/internal.py``), and exits 3.
"""

from __future__ import annotations

import threading
from typing import Protocol

from reconciler.errors import ReconcilerError

#: why a change was not tried once a bug had stopped the apply
STOPPED = "not started: reconcile stopped on an internal error"


class _Crashable(Protocol):
    crashed: BaseException | None


_lock = threading.Lock()


def is_bug(exc: BaseException) -> bool:
    """Whether ``exc`` is outside the project's error tree (and is not a stop: Ctrl-C, exit)."""
    return isinstance(exc, Exception) and not isinstance(exc, ReconcilerError)


def caught(exc: BaseException, report: _Crashable) -> str:
    """Keep the first bug on ``report``; the message of the change it interrupted (its text never
    repeats the exception's, which might hold a value)."""
    with _lock:
        if report.crashed is None:
            report.crashed = exc
    return (
        f"internal error ({type(exc).__name__}) during this change: it may or may not have been made; "
        "run `reconcile plan` to see"
    )


def stopped(report: _Crashable) -> str | None:
    """``STOPPED`` once a bug was met in any pipeline of this apply, else ``None``."""
    return STOPPED if report.crashed is not None else None
