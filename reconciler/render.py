"""Plans → text and JSON; the apply report. Writers take a stream. The markdown comment is
``render_markdown``'s, GitHub annotations are ``annotate``'s, validate's problems ``cli.validateout``'s.

Masking asks the field table (``fields.masked``): a value that is write-only or came from ``${env:…}``
is written as ``(sensitive)`` in every format meant for people (the plan *file* keeps references,
never values).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TextIO

from reconciler.fields import SENSITIVE, is_write_only, masked, strip_write_only
from reconciler.plan import elements
from reconciler.plan.changes import (
    CreateAction,
    CreatePipeline,
    DeleteAction,
    DeletePipeline,
    UpdateAction,
    UpdatePipeline,
)
from reconciler.plan.plan import Change, Plan, SafetyWarning

if TYPE_CHECKING:  # apply brings the client (httpx): validate's output needs neither
    from reconciler.apply import ApplyReport, Outcome

STYLES = {
    "+": "green",
    "~": "yellow",
    "-": "red",
    "!": "yellow",
    "h": "bold",
    "w": "magenta",
    "e": "bold red",
    "u": "bold magenta",
}
Line = tuple[str, str]  # (style key, text)


# -- values -----------------------------------------------------------------------------------------


show = elements.show


def masked_fields(fields: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if fields is None:
        return None
    return {k: masked(k, v) for k, v in fields.items()}


def _masked_path(item: Mapping[str, Any]) -> dict[str, Any]:
    """A per-path diff entry as it may be shown: both sides masked at that path (``fields``)."""
    label = re.sub(r"\[\d+\]", "[]", str(item.get("path", "")))
    out = dict(item)
    for side in ("from", "to"):
        if side in out:
            out[side] = SENSITIVE if is_write_only(label) else masked(label, out[side])
    return out


# -- the plan as lines ------------------------------------------------------------------------------


def _pipeline_header(change: Change) -> str:
    where = f"#{change.pipeline_id}" if change.pipeline_id is not None else "new"
    return f'{change.workspace}/{change.project}  pipeline "{change.pipeline}" ({where})'


def _placement(change: Change) -> str:
    if change.after_action_name is None:
        return "at the end"
    if change.after_action_id is None:
        return f'after "{change.after_action_name}" (created just before)'
    if change.after_renamed_from is not None:
        return f'after "{change.after_action_name}" (renamed from "{change.after_renamed_from}")'
    return f'after "{change.after_action_name}" (#{change.after_action_id})'


def _field_lines(
    sym: str, fields: Mapping[str, Any], unset: Iterable[str] = (), sources: Mapping[str, str] | None = None
) -> list[Line]:
    """A create's fields, one a line; a value from a defaults block says where: ``(defaults.yml:3)``."""
    unset, sources = set(unset), sources or {}
    rows = [(k, v) for k, v in fields.items() if k != "name"]
    width = max((len(k) for k, _ in rows), default=0) + 2
    lines: list[Line] = []
    for key, value in rows:
        text = show(masked(key, value))
        if key in unset:
            text = f"{SENSITIVE[:-1]}, not set)"
        if key in sources:
            text += f"  ({sources[key]})"
        lines.append((sym, f"        {key.ljust(width)}{text}"))
    return lines


def _diff_lines(sym: str, change: Change) -> list[Line]:
    """Each changed field of an update, element by element and path by path (``update_field_lines``)."""
    rows: list[tuple[str, str]] = []
    for key, entry in (change.diff or {}).items():
        lines = update_field_lines(key, entry, unset=key in change.unset_sensitive)
        if entry.get("source") and lines:  # the value came from a defaults block: say where
            mark, text = lines[0]
            lines[0] = (mark, f"{text}  ({entry['source']})")
        rows.extend(lines)
    width = max((len(elements.split_change(t)[0]) for m, t in rows if m in "~+-" and "\t" in t), default=0) + 2
    return [_layout(sym, mark, text, width) for mark, text in rows]


def _create_pipeline_lines(sym: str, change: Change) -> list[Line]:
    return [(sym, f'  + create pipeline "{change.pipeline}"'), *_field_lines(sym, change.fields or {})]


def _create_lines(sym: str, change: Change) -> list[Line]:
    head = f'  + create  "{change.action_name}"'
    return [
        (sym, f"{head.ljust(42)} {_placement(change)}"),
        *_field_lines(sym, change.fields or {}, change.unset_sensitive, change.sources),
    ]


def _update_pipeline_lines(sym: str, change: Change) -> list[Line]:
    return [(sym, f'  ~ update pipeline "{change.pipeline}" (#{change.pipeline_id})'), *_diff_lines(sym, change)]


def _update_lines(sym: str, change: Change) -> list[Line]:
    return [(sym, f'  ~ update  "{change.action_name}" (#{change.action_id})'), *_diff_lines(sym, change)]


def _delete_lines(sym: str, change: Change) -> list[Line]:
    head = f'  - delete  "{change.action_name}" (#{change.action_id})'
    return [(sym, f"{head.ljust(42)} {change.reason or ''}".rstrip())]


def _delete_pipeline_lines(sym: str, change: Change) -> list[Line]:
    head = f'  - delete pipeline "{change.pipeline}" (#{change.pipeline_id})'
    return [(sym, f"{head.ljust(42)} no file declares it (prune_pipelines)")]


def orphan_notes(plan: Plan) -> list[str]:
    """Per project, the live pipelines no file declares that the plan leaves alone: ``acme/web  not
    managed here: 2 pipelines: "Docs" (#9), "Old" (#12)``."""
    deleted = {c.pipeline_id for c in plan.changes if isinstance(c, DeletePipeline)}
    by_project: dict[str, list[str]] = {}
    for orphan in plan.orphans:
        if orphan.pipeline_id in deleted:
            continue
        why = f", {orphan.kept}" if orphan.kept else ""
        by_project.setdefault(f"{orphan.workspace}/{orphan.project}", []).append(
            f'"{orphan.name}" (#{orphan.pipeline_id}{why})'
        )
    return [
        printable(
            f"{project}  not managed here: {len(names)} pipeline{'s' if len(names) != 1 else ''}: {', '.join(names)}"
        )
        for project, names in by_project.items()
    ]


#: how each kind of change is drawn in the text plan
_LINES: dict[type[Change], Callable[[str, Change], list[Line]]] = {
    CreatePipeline: _create_pipeline_lines,
    CreateAction: _create_lines,
    UpdatePipeline: _update_pipeline_lines,
    UpdateAction: _update_lines,
    DeleteAction: _delete_lines,
    DeletePipeline: _delete_pipeline_lines,
}


def change_lines(change: Change) -> list[Line]:
    """The lines one change shows (without its pipeline header)."""
    return _LINES[type(change)](change.symbol, change)


def _shown(name: str, value: Any) -> Any:
    """A diff side as it may be shown: nested write-only parts dropped (the live side never has them),
    every part from ``${env:…}`` masked. Defence in depth: the plan's diff is masked when made."""
    if value == SENSITIVE or value is None:
        return value
    return masked(name, strip_write_only(name, value))


def update_field_lines(key: str, entry: Mapping[str, Any], *, unset: bool = False) -> list[elements.FieldLine]:
    """One updated field as marker/text rows (see ``elements.field_lines``), secrets masked."""
    before, after = entry.get("from"), entry.get("to")
    if unset:
        after = "(sensitive, not set)"
    if is_write_only(key) or SENSITIVE in (before, after) or unset:
        same = before == SENSITIVE and after == SENSITIVE
        shown_before = SENSITIVE if is_write_only(key) or before == SENSITIVE else _shown(key, before)
        text = SENSITIVE if same else f"{show(shown_before)} -> {show(masked(key, after))}"
        return [("~", f"{key}\t{text}{_resent_note(entry)}")]
    return elements.field_lines(key, _shown(key, before), _shown(key, after))


def _resent_note(entry: Mapping[str, Any]) -> str:
    """How a secret sent again says so: by the variables it comes from (``re-sent from DOCKERHUB_TOKEN``)."""
    if not entry.get("resend"):
        return ""
    names = [str(n) for n in entry.get("variables") or ()]
    return "  re-sent" + (f" from {', '.join(names)}" if names else "")


def _layout(sym: str, mark: str, text: str, width: int) -> Line:
    """One row of an update's field diff, indented under the change."""
    path, rest = elements.split_change(text)
    if mark == "~":
        return (sym, f"        {path.ljust(width)}{rest}" if rest is not None else f"        {path}")
    style = {"+": "+", "-": "-"}.get(mark, "")
    if rest is not None:  # an object key or element added or removed at a path
        return (style, f"      {mark} {path.ljust(width)}{rest}")
    return (style, f"          {mark} {path}" if mark in "+-" else f"            {path}")


def summary_line(plan: Plan) -> str:
    s = plan.summary
    pipelines = len(plan.with_changes())
    failed = ""
    if plan.errors:
        failed = (
            f" {len(plan.errors)} pipeline{'s' if len(plan.errors) != 1 else ''} could not be planned (see the errors)."
        )
    if not plan.changes:
        if failed:
            return "No changes planned for the other pipelines." + failed
        return "No changes. Buddy matches the configuration."
    notes = [f"{s['create_pipeline']} of them new"] if s["create_pipeline"] else []
    if s["update_pipeline"]:
        notes.append(f"{s['update_pipeline']} with pipeline settings to update")
    if s["delete_pipeline"]:
        notes.append(f"{s['delete_pipeline']} to delete")
    made = f" ({', '.join(notes)})" if notes else ""
    return (
        f"Plan: {s['create']} to create, {s['update']} to update, {s['delete']} to delete "
        f"in {pipelines} pipeline{'s' if pipelines != 1 else ''}{made}.{failed}"
    )


def plan_sections(plan: Plan) -> list[tuple[str, list[Change], list[Line]]]:
    """Per pipeline with changes: (title, changes, lines)."""
    sections = []
    for unit in plan.with_changes():
        changes = unit.changes
        title = printable(_pipeline_header(changes[0]))
        lines: list[Line] = [("h", title)]
        for change in changes:
            lines.extend((style, printable(text)) for style, text in change_lines(change))
        sections.append((title, changes, lines))
    return sections


def plan_lines(plan: Plan) -> list[Line]:
    """The text plan. Warnings come first, before the details (SPEC.md): the safety check's first,
    then the others; the summary line ends it."""
    safety = [w for w in plan.warnings if isinstance(w, SafetyWarning)]
    others = [w for w in plan.warnings if w not in safety]
    lines: list[Line] = [("w", printable(f"warning: {w}")) for w in [*safety, *others]]
    if lines:
        lines.append(("", ""))
    for _title, _changes, section in plan_sections(plan):
        lines.extend(section)
    lines.extend(("h", note) for note in orphan_notes(plan))
    for skipped in plan.skipped:
        where = f"#{skipped.pipeline_id}" if skipped.pipeline_id is not None else "new"
        lines.append(
            (
                "h",
                printable(
                    f'{skipped.workspace}/{skipped.project}  pipeline "{skipped.pipeline}" ({where})  '
                    f"skipped: {skipped.reason}"
                ),
            )
        )
    for error in plan.errors:
        lines.append(("e", printable(f"error: {error}")))
    lines.append(("", ""))
    lines.append(("h", summary_line(plan)))
    return lines


def write_lines(lines: Iterable[Line], stream: TextIO, *, color: bool) -> None:
    if not color:
        for _style, text in lines:
            stream.write(text + "\n")
        return
    from rich.console import Console  # colour only: validate and plain output never load rich
    from rich.text import Text

    console = Console(file=stream, force_terminal=True, highlight=False, soft_wrap=True)
    for style, text in lines:
        console.print(Text(text, style=STYLES.get(style, "")))


def write_text(plan: Plan, stream: TextIO, *, color: bool = False) -> None:
    """The plan as SPEC.md shows it; coloured only when ``color``."""
    write_lines(plan_lines(plan), stream, color=color)


def write_json(plan: Plan, stream: TextIO) -> None:
    """The JSON plan for people (``--format json``): sensitive values masked. The plan *file*, which
    keeps ``${env:…}`` references for ``apply --plan``, is ``planfile.write_plan_file``'s."""
    data = plan.to_json()
    for change in data["changes"]:
        change["fields"] = masked_fields(change["fields"])
        for key, entry in (change.get("diff") or {}).items():
            for side in ("from", "to"):
                if side in entry:
                    entry[side] = masked(key, entry[side])
            if "paths" in entry:
                entry["paths"] = [_masked_path(item) for item in entry["paths"]]
    json.dump(data, stream, indent=2, ensure_ascii=False)
    stream.write("\n")


# -- apply ------------------------------------------------------------------------------------------

#: how each outcome status is styled in the apply summary
OUTCOME_STYLES = {"applied": "+", "failed": "e", "uncertain": "u", "not tried": "w"}


def printable(text: str) -> str:
    """``text`` with control characters (an escape sequence in a server's message, a newline) shown
    as escapes, so that nothing a server says can move the cursor or recolour a terminal."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def _where(change: Change) -> str:
    return f'{change.workspace}/{change.project} "{change.pipeline}"'


def _target(change: Change) -> str:
    """The action a change is about, with its id when it has one."""
    ident = f" (#{change.action_id})" if change.action_id is not None else ""
    return f'"{change.action_name}"{ident}'


def describe_change(change: Change) -> str:
    """One line naming a change, for progress and the apply summary."""
    if isinstance(change, CreatePipeline):
        return printable(f"create pipeline {_where(change)}")
    if change.on_pipeline:
        return printable(f"{change.label} {_where(change)} (#{change.pipeline_id})")
    return printable(f"{change.label} {_target(change)} in {_where(change)}")


def describe_progress(change: Change) -> str:
    """The change in hand, as a progress bar names it: ``creating "Build app image" in acme/web "Release"``."""
    verb = change.doing
    if change.on_pipeline:
        return printable(f"{verb} {_where(change)}")
    return printable(f"{verb} {_target(change)} in {_where(change)}")


def describe_outcome(outcome: Outcome) -> str:
    """A finished change as one line: ``created "Build app image" (#101) in acme/web "Release"``,
    ``failed: update … : the API's message``."""
    change = outcome.change
    if outcome.status == "applied":
        verb = change.done
        ident = outcome.object_id if outcome.object_id is not None else change.action_id
        if change.on_pipeline:
            text = f"{verb} {_where(change)}" + (f" (#{ident})" if ident is not None else "")
        else:
            what = f'"{change.action_name}"' + (f" (#{ident})" if ident is not None else "")
            text = f"{verb} {what} in {_where(change)}"
        return printable(text + (f" ({outcome.message})" if outcome.message else ""))
    text = f"{outcome.status}: {describe_change(change)}"
    return printable(text + (f": {outcome.message}" if outcome.message else ""))


def _outcome_row(outcome: Outcome) -> Line:
    """One line of a pipeline's group in the summary: status, change, and why."""
    change = outcome.change
    what = f'"{change.pipeline}"' if change.on_pipeline else _target(change)
    if isinstance(change, CreateAction) and outcome.object_id is not None:
        what = f'"{change.action_name}" (#{outcome.object_id})'
    text = f"    {outcome.status.ljust(10)} {change.label.ljust(8)} {what}"
    if outcome.message:
        text += f": {outcome.message}"
    return (OUTCOME_STYLES.get(outcome.status, ""), printable(text))


def _counts(outcomes: list[Outcome]) -> str:
    order = ("applied", "failed", "uncertain", "not tried")
    tally = {status: sum(1 for o in outcomes if o.status == status) for status in order}
    return ", ".join(f"{tally[s]} {s}" for s in order if tally[s]) or "0 applied"


def apply_report_lines(report: ApplyReport, *, quiet: bool = False) -> list[Line]:
    """The summary, by pipeline: a pipeline where everything was applied is one line; one where
    something failed, is uncertain or was not tried lists every change, so a reader sees what
    landed before it. ``quiet`` keeps only the pipelines with problems, and the verdict."""
    lines: list[Line] = []
    groups: dict[str, list[Outcome]] = {}
    for outcome in report.outcomes:
        groups.setdefault(outcome.change.pipeline_key, []).append(outcome)
    for outcomes in groups.values():
        troubled = any(o.status != "applied" for o in outcomes)
        if quiet and not troubled:
            continue
        header = printable(f"{_pipeline_header(outcomes[0].change)}: {_counts(outcomes)}")
        lines.append(("h", header))
        if troubled:
            lines.extend(_outcome_row(o) for o in outcomes)
    if not quiet:
        lines.extend(("w", printable(f"warning: {w}")) for w in report.warnings)
    lines.extend(("e", printable(f"error: {e}")) for e in report.errors)
    lines.append(("h", _verdict(report)))
    return lines


def _verdict(report: ApplyReport) -> str:
    if not report.outcomes and not report.errors:
        return "Apply complete: nothing to do."
    problems = any(o.status != "applied" for o in report.outcomes)
    if report.interrupted:
        verdict = "Apply interrupted"
    else:
        verdict = "Apply incomplete" if problems or not report.ok else "Apply complete"
    text = f"{verdict}: {_counts(report.outcomes)}."
    if problems or verdict != "Apply complete":
        text += " Run `reconcile plan` to see what is left to do."
    return text


def write_apply_report(report: ApplyReport, stream: TextIO, *, color: bool = False, quiet: bool = False) -> None:
    """What was applied, what failed and why, what is uncertain, what was not tried: by pipeline."""
    write_lines(apply_report_lines(report, quiet=quiet), stream, color=color)
