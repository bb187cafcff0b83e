"""What `reconcile validate` writes besides the problems' text and annotations (``render``): the
problems as JSON for scripts, and the one line that names the YAML files skipped as not config files."""

from __future__ import annotations

import json
import re
from typing import Any, TextIO

from reconciler.problems import Problem


def skipped_note(skipped: list[str]) -> str:
    """One line naming the YAML files a directory scan skipped as not config files."""
    if len(skipped) == 1:
        return f"1 YAML file skipped: {skipped[0]}: not a reconcile config"
    return f"{len(skipped)} YAML files skipped as not reconcile configs: {', '.join(skipped)}"


#: a did-you-mean at the end of a message, as the schema and rule checks word it
_SUGGESTION = re.compile(r"; did you mean [`\"](?P<word>.+?)[`\"]\?$")


def problem_json(problem: Problem) -> dict[str, Any]:
    """One problem as data; a did-you-mean is taken off the message into ``suggestion``."""
    found = _SUGGESTION.search(problem.message)
    message = problem.message[: found.start()] if found else problem.message
    loc = problem.location
    return {
        "file": loc.file,
        "line": loc.line,
        "column": loc.col,
        "path": problem.path,
        "severity": problem.severity,
        "message": message,
        "suggestion": found["word"] if found else None,
    }


def write_problems_json(problems: list[Problem], stream: TextIO, *, files: int) -> None:
    """Every problem as JSON (none left out: a script wants them all), with the counts."""
    errors = sum(1 for p in problems if p.severity == "error")
    data = {
        "valid": not errors,
        "files": files,
        "errors": errors,
        "warnings": len(problems) - errors,
        "problems": [problem_json(p) for p in problems],
    }
    stream.write(json.dumps(data, indent=2) + "\n")
