"""A bug, told as one: exit 3, one paragraph, and the traceback in a file, redacted like every output.

An exception outside the project's error tree is not the user's doing (nor Buddy's refusal, exit 1):
it says so, writes the traceback (token and secret values masked) to a new file in the temp
directory, names that file, and asks for a report. ``-v`` also prints the traceback.
"""

from __future__ import annotations

import os
import tempfile
import traceback
from typing import TextIO

from reconciler.buddy.settings import TOKEN_VAR
from reconciler.redact import Redactor

#: the exit code of a bug in reconcile (as pre-commit exits 3 on an unexpected error)
BUG_EXIT = 3
#: how much of the exception's message the paragraph repeats (the file holds it whole)
MESSAGE_LIMIT = 200


def report_bug(exc: BaseException, err: TextIO, redactor: Redactor, *, verbose: bool = False) -> int:
    """Tell ``err`` of the bug ``exc`` and return ``BUG_EXIT``."""
    redactor.add(os.environ.get(TOKEN_VAR, ""))  # known even when the bug came before any client
    details = redactor("".join(traceback.format_exception(exc)))
    where = _write_details(details)
    said = redactor(str(exc)).strip().splitlines()
    what = type(exc).__name__ + (f": {said[0][:MESSAGE_LIMIT]}" if said else "")
    kept = f"details in {where}; please report it with that file" if where else "run again with -v for details"
    err.write(
        f"internal error: {what}; this is a bug in reconcile (or in a library it uses), not a problem with "
        f"the files or a refusal by Buddy; {kept}\n"
    )
    if verbose:
        err.write(details)
    return BUG_EXIT


def _write_details(text: str) -> str | None:
    """The path of a new file (readable by its owner only) holding ``text``; ``None`` when none can be
    written."""
    try:
        fd, path = tempfile.mkstemp(prefix="reconcile-crash-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
    except OSError:
        return None
    return path
