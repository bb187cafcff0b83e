"""GitHub workflow commands: annotations on a pull request's diff (``::warning file=…,line=…::…``), for
the plan's warnings and errors and for validate's problems."""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from reconciler.problems import split_location

if TYPE_CHECKING:  # validate's annotations need no plan
    from reconciler.plan.plan import Plan


def _gh_escape(text: str, *, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def github_annotation(
    level: str, message: str, *, file: str | None = None, line: int | None = None, col: int | None = None
) -> str:
    props = []
    if file:
        props.append(f"file={_gh_escape(file, prop=True)}")
    if line:
        props.append(f"line={line}")
    if col:
        props.append(f"col={col}")
    head = f"::{level} {','.join(props)}" if props else f"::{level}"
    return f"{head}::{_gh_escape(message)}"


def located_annotation(level: str, message: str) -> str:
    """An annotation for a plan message: on its file and line when the message names a place."""
    where, text = split_location(message)
    if where is None:
        return github_annotation(level, text)
    return github_annotation(level, text, file=where.file, line=where.line, col=where.col)


def write_plan_annotations(plan: Plan, stream: TextIO) -> None:
    for warning in plan.warnings:
        stream.write(located_annotation("warning", warning) + "\n")
    for error in plan.errors:
        stream.write(located_annotation("error", error) + "\n")
