"""Plans and problems → text, markdown, JSON and GitHub annotations. Writers take a stream.

Masking asks the field table (``fields.masked``): a value that is write-only or came from ``${env:…}``
is written as ``(sensitive)`` in every format meant for people (the plan *file* keeps references,
never values).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

from rich.console import Console
from rich.text import Text

from reconciler.apply import ApplyReport
from reconciler.fields import SENSITIVE, masked
from reconciler.plan import Change, Plan
from reconciler.problems import Problem

MARKDOWN_LIMIT = 65_000
STYLES = {
    "+": "green",
    "~": "yellow",
    "-": "red",
    "!": "yellow",
    "h": "bold",
    "w": "magenta",
    "e": "bold red",
}
SYMBOL = {"create_pipeline": "+", "create": "+", "update": "~", "delete": "-"}
Line = tuple[str, str]  # (style key, text)


# -- values -----------------------------------------------------------------------------------------


def show(value: Any) -> str:
    """A value as one short line."""
    if isinstance(value, str):
        return value if value else '""'
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def masked_fields(fields: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if fields is None:
        return None
    return {k: masked(k, v) for k, v in fields.items()}


# -- the plan as lines ------------------------------------------------------------------------------


def _pipeline_header(change: Change) -> str:
    where = f"#{change.pipeline_id}" if change.pipeline_id is not None else "new"
    return f'{change.workspace}/{change.project}  pipeline "{change.pipeline}" ({where})'


def _placement(change: Change) -> str:
    if change.after_action_name is None:
        return "at the end"
    if change.after_action_id is None:
        return f'after "{change.after_action_name}" (created just before)'
    return f'after "{change.after_action_name}" (#{change.after_action_id})'


def _field_lines(sym: str, fields: Mapping[str, Any], unset: Iterable[str] = ()) -> list[Line]:
    unset = set(unset)
    rows = [(k, v) for k, v in fields.items() if k != "name"]
    width = max((len(k) for k, _ in rows), default=0) + 2
    lines: list[Line] = []
    for key, value in rows:
        text = show(masked(key, value))
        if key in unset:
            text = f"{SENSITIVE[:-1]}, not set)"
        lines.append((sym, f"        {key.ljust(width)}{text}"))
    return lines


def change_lines(change: Change) -> list[Line]:
    """The lines one change shows (without its pipeline header)."""
    sym = SYMBOL[change.kind]
    if change.kind == "create_pipeline":
        return [(sym, f'  + create pipeline "{change.pipeline}"'), *_field_lines(sym, change.fields or {})]
    if change.kind == "create":
        head = f'  + create  "{change.action_name}"'
        return [
            (sym, f"{head.ljust(42)} {_placement(change)}"),
            *_field_lines(sym, change.fields or {}, change.unset_sensitive),
        ]
    if change.kind == "update":
        lines: list[Line] = [(sym, f'  ~ update  "{change.action_name}" (#{change.action_id})')]
        diff = change.diff or {}
        width = max((len(k) for k in diff), default=0) + 2
        for key, entry in diff.items():
            before, after = entry.get("from"), entry.get("to")
            if key in change.unset_sensitive:
                after = "(sensitive, not set)"
            same = before == SENSITIVE and after == SENSITIVE
            text = SENSITIVE if same else f"{show(before)} -> {show(after)}"
            lines.append((sym, f"        {key.ljust(width)}{text}"))
            lines.extend((sym, f"        {'':{width}}  at {path}") for path in entry.get("paths", []))
        return lines
    head = f'  - delete  "{change.action_name}" (#{change.action_id})'
    return [(sym, f"{head.ljust(42)} {change.reason or ''}".rstrip())]


def _summary_line(plan: Plan) -> str:
    s = plan.summary
    pipelines = len(plan.pipelines())
    failed = ""
    if plan.errors:
        failed = (
            f" {len(plan.errors)} pipeline{'s' if len(plan.errors) != 1 else ''} could not be planned (see the errors)."
        )
    if not plan.changes:
        if failed:
            return "No changes planned for the other pipelines." + failed
        return "No changes. Buddy matches the configuration."
    made = f" ({s['create_pipeline']} of them new)" if s["create_pipeline"] else ""
    return (
        f"Plan: {s['create']} to create, {s['update']} to update, {s['delete']} to delete "
        f"in {pipelines} pipeline{'s' if pipelines != 1 else ''}{made}.{failed}"
    )


def plan_sections(plan: Plan) -> list[tuple[str, list[Change], list[Line]]]:
    """Per pipeline with changes: (title, changes, lines)."""
    sections = []
    for _key, changes in plan.pipelines():
        lines: list[Line] = [("h", _pipeline_header(changes[0]))]
        for change in changes:
            lines.extend(change_lines(change))
        sections.append((_pipeline_header(changes[0]), changes, lines))
    return sections


def plan_lines(plan: Plan) -> list[Line]:
    lines: list[Line] = []
    for _title, _changes, section in plan_sections(plan):
        lines.extend(section)
    for skipped in plan.skipped:
        where = f"#{skipped.pipeline_id}" if skipped.pipeline_id is not None else "new"
        lines.append(
            (
                "h",
                f'{skipped.workspace}/{skipped.project}  pipeline "{skipped.pipeline}" ({where})  '
                f"skipped: {skipped.reason}",
            )
        )
    for error in plan.errors:
        lines.append(("e", f"error: {error}"))
    lines.append(("", ""))
    lines.append(("h", _summary_line(plan)))
    for warning in plan.warnings:
        lines.append(("w", f"warning: {warning}"))
    return lines


def write_lines(lines: Iterable[Line], stream: TextIO, *, color: bool) -> None:
    if not color:
        for _style, text in lines:
            stream.write(text + "\n")
        return
    console = Console(file=stream, force_terminal=True, highlight=False, soft_wrap=True)
    for style, text in lines:
        console.print(Text(text, style=STYLES.get(style, "")))


def write_text(plan: Plan, stream: TextIO, *, color: bool = False) -> None:
    """The plan as SPEC.md shows it; coloured only when ``color``."""
    write_lines(plan_lines(plan), stream, color=color)


def write_json(plan: Plan, stream: TextIO) -> None:
    """The JSON plan for people (``--format json``): sensitive values masked. The plan *file*, which
    keeps ``${env:…}`` references for ``apply --plan``, is ``plan.write_plan_file``'s."""
    data = plan.to_json()
    for change in data["changes"]:
        change["fields"] = masked_fields(change["fields"])
    json.dump(data, stream, indent=2, ensure_ascii=False)
    stream.write("\n")


def write_markdown(plan: Plan, stream: TextIO, *, limit: int = MARKDOWN_LIMIT) -> None:
    """A pull-request comment: a summary table, then a ``<details>`` section per pipeline. When the
    comment would pass ``limit`` characters, per-pipeline detail is cut from the end and named."""
    head = ["### reconcile plan", "", _summary_line(plan), ""]
    sections = plan_sections(plan)
    if sections:
        head += ["| pipeline | create | update | delete |", "|---|---:|---:|---:|"]
        for title, changes, _lines in sections:
            counts = {k: sum(1 for c in changes if c.kind == k) for k in ("create", "update", "delete")}
            label = title.replace("|", "\\|")
            head.append(f"| {label} | {counts['create']} | {counts['update']} | {counts['delete']} |")
        head.append("")
    tail: list[str] = []
    for skipped in plan.skipped:
        tail.append(f'- skipped `{skipped.workspace}/{skipped.project}` "{skipped.pipeline}": {skipped.reason}')
    for error in plan.errors:
        tail.append(f"- :x: error: {error}")
    for warning in plan.warnings:
        tail.append(f"- :warning: {warning}")
    if tail:
        tail.insert(0, "")
    blocks = []
    for title, _changes, lines in sections:
        block = ["<details><summary>" + _escape_html(title) + "</summary>", "", "```diff"]
        block += [_diff_line(style, text) for style, text in lines[1:]]
        block += ["```", "", "</details>", ""]
        blocks.append((title, "\n".join(block) + "\n"))
    fixed = len("\n".join(head + tail)) + 2
    body: list[str] = []
    size = fixed
    for index, (_title, block) in enumerate(blocks):
        rest = [t for t, _ in blocks[index + 1 :]]
        if size + len(block) + len(_cut_note(rest, limit)) <= limit:
            body.append(block)
            size += len(block)
            continue
        body.append(_cut_note([t for t, _ in blocks[index:]], limit))
        break
    text = "\n".join(head) + "\n" + "".join(body) + "\n".join(tail)
    if len(text) > limit:  # the table alone is too long: keep the verdict and say where the rest is
        text = (
            "\n".join(head[:4]) + f"\n_{len(sections)} pipelines change; the plan is too long for a comment. "
            "Run `reconcile plan` for the full plan._\n"
        )
    stream.write(text.rstrip() + "\n")


def _diff_line(style: str, text: str) -> str:
    """A plan line for a ``diff`` block: its change symbol in the first column, so that a pull
    request colours it (``!`` for updates)."""
    sym = "!" if style == "~" else style
    if style not in ("+", "-", "~"):
        return text
    if text.startswith(f"  {style} "):
        return f"{sym} {text[4:]}"  # the change line itself: "  + create …" -> "+ create …"
    return sym + text[1:]  # its detail lines: the symbol replaces the first space


def _cut_note(titles: list[str], limit: int) -> str:
    if not titles:
        return ""
    return (
        f"_Detail cut to stay under {limit:,} characters; not shown: "
        + ", ".join(titles)
        + ". Run `reconcile plan` for the full plan._\n"
    )


def _escape_html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# -- GitHub annotations -----------------------------------------------------------------------------


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


def write_plan_annotations(plan: Plan, stream: TextIO) -> None:
    for warning in plan.warnings:
        stream.write(github_annotation("warning", warning) + "\n")
    for error in plan.errors:
        stream.write(github_annotation("error", error) + "\n")


# -- problems (validate) ----------------------------------------------------------------------------


def problem_summary(problems: list[Problem], files: int) -> str:
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = len(problems) - errors
    verdict = "invalid" if errors else "valid"
    return f"{files} file(s) {verdict}: {errors} error(s), {warnings} warning(s)."


def write_problems(problems: list[Problem], stream: TextIO, *, files: int, fmt: str = "text") -> None:
    """Every problem as ``file:line:col: $.path: message`` (or a GitHub annotation), then a summary."""
    for problem in problems:
        if fmt == "github":
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


# -- apply ------------------------------------------------------------------------------------------


def describe_change(change: Change) -> str:
    """One line naming a change, for progress and the apply summary."""
    where = f'{change.workspace}/{change.project} "{change.pipeline}"'
    if change.kind == "create_pipeline":
        return f"create pipeline {where}"
    ident = f" (#{change.action_id})" if change.action_id is not None else ""
    return f'{change.kind} "{change.action_name}"{ident} in {where}'


def write_apply_report(report: ApplyReport, stream: TextIO, *, color: bool = False) -> None:
    """What was applied, what failed and why, what was not tried."""
    applied, failed, skipped = report.of("applied"), report.of("failed"), report.of("not tried")
    uncertain = report.of("uncertain")
    lines: list[Line] = []
    for outcome in failed:
        lines.append(("e", f"failed: {describe_change(outcome.change)}: {outcome.message}"))
    for outcome in uncertain:
        lines.append(("e", f"uncertain: {describe_change(outcome.change)}: {outcome.message}"))
    for outcome in skipped:
        lines.append(("w", f"not tried: {describe_change(outcome.change)}: {outcome.message}"))
    for warning in report.warnings:
        lines.append(("w", f"warning: {warning}"))
    for error in report.errors:
        lines.append(("e", f"error: {error}"))
    if not report.outcomes:
        lines.append(("h", "Apply complete: nothing to do."))
    else:
        verdict = "Apply complete" if report.ok else "Apply interrupted" if report.interrupted else "Apply incomplete"
        also = f", {len(uncertain)} uncertain" if uncertain else ""
        lines.append(("h", f"{verdict}: {len(applied)} applied, {len(failed)} failed{also}, {len(skipped)} not tried."))
    write_lines(lines, stream, color=color)
