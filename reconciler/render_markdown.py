"""The plan as a pull-request comment (``--format markdown``): the verdict, a table of counts per
pipeline, the errors and warnings, then a ``<details>`` block per pipeline, cut to fit a comment."""

from __future__ import annotations

from collections import Counter
from typing import TextIO

from reconciler.plan.changes import Change, CreateAction, DeleteAction, DeletePipeline, UpdateAction, UpdatePipeline
from reconciler.plan.plan import Plan
from reconciler.render import Line, orphan_notes, plan_sections, printable, summary_line

#: GitHub's limit on a comment is 65,536 characters: a little room is left for the marker and a footer
MARKDOWN_LIMIT = 65_000

Section = tuple[str, list[Change], list[Line]]


def write_markdown(plan: Plan, stream: TextIO, *, limit: int = MARKDOWN_LIMIT) -> None:
    """A pull-request comment: a summary table, then a ``<details>`` section per pipeline. When the
    comment would pass ``limit`` characters, per-pipeline detail is cut from the end and named."""
    sections = plan_sections(plan)
    notes = _notes(plan)
    head = ["### reconcile plan", "", summary_line(plan), "", *_table(sections)]
    if notes:  # right under the table, before the details: what a reviewer must not miss
        head += [*notes, ""]
    tail = _skipped(plan)
    blocks = [(title, _details(title, lines)) for title, _changes, lines in sections]
    body = _fit(blocks, len("\n".join(head + tail)) + 2, limit)
    text = "\n".join(head) + "\n" + "".join(body) + "\n".join(tail)
    if len(text) > limit:  # the table alone is too long: keep the verdict and say where the rest is
        text = (
            "\n".join(head[:4])
            + "\n"
            + "".join(f"{note}\n" for note in notes)
            + f"\n_{len(sections)} pipelines change; the plan is too long for a comment. "
            "Run `reconcile plan` for the full plan._\n"
        )
    stream.write(text.rstrip() + "\n")


def _table(sections: list[Section]) -> list[str]:
    """The counts per pipeline with changes, as a markdown table (nothing when no pipeline changes)."""
    if not sections:
        return []
    rows = ["| pipeline | create | update | delete |", "|---|---:|---:|---:|"]
    for title, changes, _lines in sections:
        counts = Counter(type(c) for c in changes)
        label = _escape_html(title).replace("|", "\\|")
        if counts[UpdatePipeline]:
            label += " (pipeline updated)"  # its own fields or name: not an action count
        if counts[DeletePipeline]:
            label += " (pipeline deleted)"
        rows.append(f"| {label} | {counts[CreateAction]} | {counts[UpdateAction]} | {counts[DeleteAction]} |")
    return [*rows, ""]


def _notes(plan: Plan) -> list[str]:
    """The plan's errors, then its warnings, one bullet each."""
    notes = [f"- :x: error: {_escape_html(printable(error))}" for error in plan.errors]
    return notes + [f"- :warning: {_escape_html(printable(warning))}" for warning in plan.warnings]


def _skipped(plan: Plan) -> list[str]:
    """The pipelines left alone (defined in Buddy YAML, …) and those no file declares, after the details."""
    lines = [
        _escape_html(printable(f'- skipped `{s.workspace}/{s.project}` "{s.pipeline}": {s.reason}'))
        for s in plan.skipped
    ]
    lines += [f"- {_escape_html(note)}" for note in orphan_notes(plan)]
    return ["", *lines] if lines else []


def _details(title: str, lines: list[Line]) -> str:
    """One pipeline's changes as a collapsed ``diff`` block."""
    block = ["<details><summary>" + _escape_html(title) + "</summary>", "", "```diff"]
    block += [_diff_line(style, text) for style, text in lines[1:]]
    block += ["```", "", "</details>", ""]
    return "\n".join(block) + "\n"


def _fit(blocks: list[tuple[str, str]], size: int, limit: int) -> list[str]:
    """As many detail blocks as fit under ``limit`` after ``size`` characters, then a note naming the
    pipelines whose detail was cut."""
    body: list[str] = []
    for index, (_title, section) in enumerate(blocks):
        rest = [t for t, _ in blocks[index + 1 :]]
        if size + len(section) + len(_cut_note(rest, limit)) > limit:
            body.append(_cut_note([t for t, _ in blocks[index:]], limit))
            break
        body.append(section)
        size += len(section)
    return body


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
        + ", ".join(_escape_html(t) for t in titles)
        + ". Run `reconcile plan` for the full plan._\n"
    )


def _escape_html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
