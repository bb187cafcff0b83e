"""What `reconcile validate` writes: the problems as text, as GitHub annotations or as JSON for scripts,
and the one line that names the YAML files skipped as not config files. Apart from ``render`` (plans),
so that the pre-commit hook loads no plan module."""

from __future__ import annotations

import json
import re
from typing import Any, TextIO

from reconciler.annotate import github_annotation
from reconciler.problems import Problem, cap_per_file


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


def problem_summary(problems: list[Problem], files: int) -> str:
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = len(problems) - errors
    verdict = "invalid" if errors else "valid"
    return f"{files} file(s) {verdict}: {errors} error(s), {warnings} warning(s)."


def write_problems(problems: list[Problem], stream: TextIO, *, files: int, fmt: str = "text") -> None:
    """Each problem as ``file:line:col: $.path: message`` (or a GitHub annotation), at most
    ``MAX_PROBLEMS_PER_FILE`` of a file and then how many more it has, then a summary that counts all."""
    for problem in cap_per_file(problems):
        if isinstance(problem, tuple):
            file, more = problem
            note = f"… and {more:,} more problem{'s' if more != 1 else ''} in {file} (fix these first)"
            stream.write((github_annotation("notice", note, file=file) if fmt == "github" else note) + "\n")
        elif fmt == "github":
            loc = problem.location
            stream.write(
                github_annotation(
                    problem.severity,
                    f"{problem.path}: {problem.message}",
                    file=loc.file,
                    line=loc.line,
                    col=loc.col,
                )
                + "\n"
            )
        else:
            stream.write(f"{problem}\n")
    stream.write(problem_summary(problems, files) + "\n")
