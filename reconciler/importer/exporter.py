"""``reconcile import``: live pipelines → config files that a plan finds nothing to change in.

The flow is read → model → text → files:

* ``read_project`` asks the API (pipeline list, then per pipeline the full pipeline and its action
  list, then one GET per multi-arch action, each phase concurrent on the client's pool);
* ``clean_action`` / ``clean_pipeline`` keep only the fields that carry information;
* ``render_file`` writes the YAML text by hand, because the text needs comments that PyYAML cannot
  emit (the live actions of other types, at their places);
* ``export`` composes them and writes the files atomically.

Layout written (``output`` is the ``-o`` directory):

* default: ``<output>/<project>.yml``, one file per project, the layout of ``examples/acme/``;
* ``split=True``: ``<output>/<project>/<pipeline-slug>.yml``, one file per pipeline, where the slug is
  the pipeline's name in lower case with runs of other characters turned into ``-`` (the pipeline's id
  is appended when two pipelines would share a slug).

Every file starts with a ``# yaml-language-server: $schema=…`` comment. When the output directory lies
in a tree that holds a ``config.schema.json`` (or ``schemas/config.schema.json``) in one of its
parent directories, as a checkout of this repository or a repository that keeps
``reconcile schema config > config.schema.json`` does, the comment gives the relative path to it;
otherwise it gives the published URL, the base of ``action.schema.json``'s ``$id``.

Write-only values (the field table's: ``password``, ``secrets[].value``) come back encrypted and are
never written: they become ``${env:NAME}`` references, and ``ExportResult.env`` lists each name with
what it is for. ``reconciler.importer.envnames.EnvNames`` makes the names.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reconciler import atomic, envrefs, fields
from reconciler.buddy.client import BuddyClient
from reconciler.buddy.live import read_project
from reconciler.config.defaults import NOT_DEFAULTED
from reconciler.errors import ExportWriteError, OutputExistsError, UsageError
from reconciler.importer.cleaning import (  # noqa: F401 - re-exported for the callers of exporter
    ACTION_ORDER,
    clean_action,
    clean_pipeline,
    escape,
    slug,
    unknown_action_fields,
    unknown_pipeline_notes,
)
from reconciler.importer.envnames import EnvNames
from reconciler.importer.existing import declared_elsewhere, inherited_names, repository_names
from reconciler.importer.inherited import Inherited, override, reaching
from reconciler.importer.refused import drop_refused
from reconciler.model import MULTI_ARCH, ImportedAction, ImportedPipeline

#: Where editors find the config schema when no local copy is near the output (the directory of
#: ``action.schema.json``'s ``$id``; the config schema itself has no ``$id`` on purpose).
SCHEMA_URL = "https://reconcile.dev/schemas/config.schema.json"
SCHEMA_FILE = "config.schema.json"
#: An action's keys that are never left out of what import writes.
_IDENTITY = frozenset({"name", "type"})

# -- errors and results -----------------------------------------------------------------------------


@dataclass
class ExportResult:
    """What ``export`` did. ``env`` maps each ``${env:NAME}`` the files reference to what it is for
    (set them before ``reconcile apply``; ``plan`` does not need them)."""

    files: list[Path] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


# -- text --------------------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Block style with list items indented under their key, as the examples are written."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


_BREAKS_AND_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]")


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # PyYAML may write a line break such as NEL (U+0085) raw inside single quotes, where reading folds
    # it into a space; double quotes escape every such character, so the value reads back unchanged.
    style = '"' if _BREAKS_AND_CONTROLS.search(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def _dump(mapping: Mapping[str, Any]) -> list[str]:
    text = yaml.dump(
        dict(mapping),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=4096,  # never fold a long value over lines
    )
    return text.splitlines()


def _item(mapping: Mapping[str, Any], indent: int) -> list[str]:
    """``mapping`` as one item of a block list at ``indent`` spaces."""
    lines = _dump(mapping)
    pad = " " * indent
    return [f"{pad}- {lines[0]}", *(f"{pad}  {line}" for line in lines[1:])]


def _one_line(text: str) -> str:
    # Comments end at a line break: a name that holds one must not leak onto a YAML line.
    return re.sub(r"[\x00-\x1f\x7f\u2028\u2029]+", " ", text)


def action_comment(action: ImportedAction, reason: str = "not managed here") -> str:
    """The comment that stands for a live action the file does not declare."""
    name = _one_line(action.name).replace('"', '\\"')
    return f'# (live action "{name}", {action.type}, #{action.id} — {_one_line(reason)})'


def render_action(pipeline: str, action: Mapping[str, Any], env: EnvNames, where: str) -> dict[str, Any]:
    """A cleaned action as written: write-only values replaced by ``${env:…}`` references, every
    other string escaped."""
    out: dict[str, Any] = {}
    for key, value in action.items():
        if key == "name":
            out[key] = value  # matched against live names as written: never escaped
            continue

        def reference(parts: fields.Parts, secret: Any, key: str = key, value: Any = value) -> Any:
            if secret is None:
                return None
            return envrefs.reference(env.for_write_only(pipeline, action, key, value, parts, where))

        out[key] = fields.replace_write_only(key, value, reference, escape)
    return out


@dataclass
class PipelineText:
    """One pipeline as lines of a config file, with what writing it found."""

    lines: list[str]
    notes: list[str]
    env_names: list[str]


def render_pipeline(
    workspace: str,
    project: str,
    pipeline: ImportedPipeline,
    env: EnvNames,
    *,
    by_id: bool = False,
    indent: int = 2,
    defaults: bool = False,
    inherited: Inherited | None = None,
) -> PipelineText:
    """The lines of one pipeline item under ``pipelines:``. Multi-arch actions are written in execution
    order; other live actions stand as comments at their places. Actions whose name two live actions
    share are comments too: a file cannot say which of them it means. ``by_id``: the pipeline is
    declared by ``id`` instead of ``name`` (another live pipeline has its name). ``defaults``: values
    that every written action shares go once into the pipeline's ``defaults:`` (see ``shared_defaults``).
    ``inherited``: the directory defaults that reach the file; an action says the live value of every
    key whose inherited value differs from live (see ``inherited.override``), and a note names them."""
    where = f'{workspace}/{project} pipeline "{pipeline.name}"'
    notes = unknown_pipeline_notes(where, pipeline.fields)
    lines = _pipeline_head(pipeline, where, notes, by_id=by_id, indent=indent)
    entries, used, overridden = _action_entries(project, pipeline, env, where, notes, indent + 4, inherited)
    written = [entry for entry in entries if isinstance(entry, dict)]
    shared = shared_defaults(written) if defaults else {}
    inner = " " * (indent + 2)
    if shared:
        lines.extend(f"{inner}{line}" for line in _dump({"defaults": shared}))
    lines.append(f"{inner}actions:" if written else f"{inner}actions: []")
    for entry in entries:
        if isinstance(entry, dict):
            entry = _item({k: v for k, v in entry.items() if k not in shared}, indent + 4)
        lines.extend(entry)
    if not any(a.type == MULTI_ARCH for a in pipeline.actions):
        notes.append(f"{where} has no multi-arch action: written with `actions: []`")
    if overridden and inherited is not None:
        notes.extend(_overridden_notes(where, overridden, inherited))
    return PipelineText(lines, notes, list(dict.fromkeys(used)))


def _pipeline_head(pipeline: ImportedPipeline, where: str, notes: list[str], *, by_id: bool, indent: int) -> list[str]:
    """The pipeline item's first lines: its name (or id) and settings, and ``prune: false`` when
    multi-arch actions are left out."""
    settings = escape(clean_pipeline(pipeline.name, pipeline.fields))
    notes.extend(drop_refused(settings, where, on="pipeline", keep=frozenset({"name"}))[0])
    head: dict[str, Any] = {"name": settings.pop("name")}
    # a name no file can declare (validate refuses an `${env:` in a name, escaped or not) is left to the id
    unnamed = envrefs.mentions_env(pipeline.name) or envrefs.ESCAPED_OPEN in pipeline.name
    if by_id or unnamed:
        head = {"id": pipeline.id}
        why = (
            "its name holds `${env:`, which a file cannot declare" if unnamed else "another live pipeline has this name"
        )
        notes.append(f"{where}: {why}: written as `id: {pipeline.id}`")
        lines = _item({**head, **settings}, indent)
        name = _one_line(json.dumps(pipeline.name, ensure_ascii=False))
        lines.insert(0, f"{' ' * indent}# {name} ({why}, so this one is matched by id)")
    else:
        lines = _item({**head, **settings}, indent)
    counts = Counter(action.name for action in pipeline.actions)
    if any(a.type == MULTI_ARCH and counts[a.name] > 1 for a in pipeline.actions):
        # Multi-arch actions left out of the file must survive a `plan --prune`.
        lines.append(f"{' ' * (indent + 2)}prune: false   # keeps the multi-arch actions left out below")
    return lines


def _action_entries(
    project: str,
    pipeline: ImportedPipeline,
    env: EnvNames,
    where_pipeline: str,
    notes: list[str],
    pad: int,
    inherited: Inherited | None,
) -> tuple[list[list[str] | dict[str, Any]], list[str], Counter[str]]:
    """Each live action as written (a mapping) or as a comment (lines), the variables they use, and
    how many actions said each inherited key."""
    counts = Counter(action.name for action in pipeline.actions)
    entries: list[list[str] | dict[str, Any]] = []
    used: list[str] = []
    overridden: Counter[str] = Counter()
    for action in pipeline.actions:
        if counts[action.name] > 1:
            reason = (
                f"not managed here: {counts[action.name]} live actions have this name; "
                "rename them in Buddy to manage one"
            )
            entries.append([" " * pad + action_comment(action, reason)])
            if action.type == MULTI_ARCH:
                notes.append(
                    f'{where_pipeline}: multi-arch action "{action.name}" (#{action.id}) not written: '
                    f"{counts[action.name]} live actions share its name"
                )
            continue
        if action.type != MULTI_ARCH or action.detail is None:
            entries.append([" " * pad + action_comment(action)])
            continue
        unknown = unknown_action_fields(action.detail)
        if unknown:
            notes.append(
                f'{where_pipeline} action "{action.name}": fields not written (unknown to the file format): '
                + ", ".join(unknown)
            )
        where = f'{project} / "{pipeline.name}" / "{action.name}"'
        rendered = render_action(pipeline.name, clean_action(action.detail), env, where)
        dropped, valid = drop_refused(rendered, f'{where_pipeline} action "{action.name}"', keep=_IDENTITY)
        notes.extend(dropped)
        if not valid:
            entries.append([" " * pad + action_comment(action, "not managed here: live values validate refuses")])
            notes.append(f'{where_pipeline}: action "{action.name}" (#{action.id}) not written: validate refuses it')
            continue
        used.extend(envrefs.referenced_names(rendered))
        if inherited is not None:
            overridden.update(override(rendered, action.detail, inherited))
        entries.append(rendered)
    return entries, used, overridden


def _overridden_notes(where: str, overridden: Counter[str], inherited: Inherited) -> list[str]:
    """One note per defaults file: which of its values the pipeline's actions override, and in how many."""
    by_source: dict[str, list[str]] = {}
    for key, count in overridden.items():
        by_source.setdefault(inherited.sources[key], []).append(f"{key} ({count} action{'s' * (count != 1)})")
    return [
        f"{where}: inherited defaults of {source} overridden with the live values, so that the plan "
        f"stays empty: {', '.join(keys)}"
        for source, keys in by_source.items()
    ]


def shared_defaults(actions: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The fields of ``actions`` (as written) that all of them hold with one same value, when there are
    at least two: what a pipeline's ``defaults:`` can say once. Never an identity key (``name``,
    ``after``, ``previous_names``), a ``null``, or a value holding an ``${env:…}`` reference (write-only
    values stay with each action, where their variable is named)."""
    if len(actions) < 2:
        return {}
    first, rest = actions[0], actions[1:]
    shared: dict[str, Any] = {}
    for key, value in first.items():
        if key in NOT_DEFAULTED or value is None or envrefs.referenced_names(value):
            continue
        if all(key in other and other[key] == value and type(other[key]) is type(value) for other in rest):
            shared[key] = value
    return shared


def render_file(
    workspace: str,
    project: str,
    pipelines: Sequence[ImportedPipeline],
    env: EnvNames,
    *,
    schema: str = SCHEMA_URL,
    shared_names: Collection[str] = (),
    defaults: bool = False,
    inherited: Inherited | None = None,
) -> tuple[str, list[str]]:
    """The text of one config file holding ``pipelines``, and the notes writing it produced.
    Pipelines named in ``shared_names`` (or twice in ``pipelines``, or whose name another live
    pipeline has: ``shares_name``) are declared by ``id``."""
    shared = set(shared_names) | _shared_names(pipelines)
    parts = [
        render_pipeline(
            workspace,
            project,
            p,
            env,
            by_id=p.shares_name or p.name in shared,
            defaults=defaults,
            inherited=inherited,
        )
        for p in pipelines
    ]
    names = [n for part in parts for n in part.env_names]
    head = [
        f"# yaml-language-server: $schema={schema}",
        "#",
        f"# Written by `reconcile import` from the live pipelines of {workspace}/{project}.",
        "# Live actions of other types are listed as comments at their places; they are not managed here.",
    ]
    if names:
        head.append(
            "# Write-only values (Buddy returns them encrypted) are read from the environment at apply time: "
            + ", ".join(dict.fromkeys(names))
        )
    lines = [*head, *_dump({"workspace": workspace, "project": project})]
    if parts:
        lines.append("pipelines:")
        for index, part in enumerate(parts):
            if index:
                lines.append("")
            lines.extend(part.lines)
    else:
        lines.append("pipelines: []")
    return "\n".join(lines) + "\n", [n for part in parts for n in part.notes]


def _shared_names(pipelines: Sequence[ImportedPipeline]) -> set[str]:
    """Names more than one of ``pipelines`` has."""
    seen: set[str] = set()
    shared: set[str] = set()
    for pipeline in pipelines:
        (shared if pipeline.name in seen else seen).add(pipeline.name)
    return shared


# -- files -------------------------------------------------------------------------------------------


def _safe_file_part(text: str, fallback: str) -> str:
    part = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-").lstrip(".")
    return part or fallback  # a leading dot would hide the file from a directory scan


def layout(
    output: Path, project: str, pipelines: Sequence[ImportedPipeline], *, split: bool
) -> list[tuple[Path, list[ImportedPipeline]]]:
    """Which file holds which pipelines (see the module docstring)."""
    project_part = _safe_file_part(project, "project")
    if not split:
        return [(output / f"{project_part}.yml", list(pipelines))]
    slugs = [slug(p.name) or f"pipeline-{p.id}" for p in pipelines]
    files: list[tuple[Path, list[ImportedPipeline]]] = []
    for pipeline, base in zip(pipelines, slugs, strict=True):
        stem = base if slugs.count(base) == 1 else f"{base}-{pipeline.id}"
        files.append((output / project_part / f"{stem}.yml", [pipeline]))
    return files


def schema_reference(directory: Path) -> str:
    """What the ``$schema`` comment of a file in ``directory`` points at: a relative path to a
    ``config.schema.json`` found in it or a parent (directly or under ``schemas/``), else ``SCHEMA_URL``."""
    start = Path(os.path.realpath(directory))  # never raises, even on a symlink loop (resolve() does)
    for parent in (start, *start.parents):
        for candidate in (parent / SCHEMA_FILE, parent / "schemas" / SCHEMA_FILE):
            if candidate.is_file():
                return Path(os.path.relpath(candidate, start)).as_posix()
    return SCHEMA_URL


def _write_all(planned: Sequence[tuple[Path, str]], *, force: bool) -> list[Path]:
    """Write each planned file atomically; before any write, ``ExportWriteError`` when one is a
    directory and ``OutputExistsError`` when one exists and ``force`` is false (without ``force`` no
    file is ever replaced, not even one that another run wrote meanwhile). A failure after some files
    were written names them. Returns the paths written."""
    folders = [path for path, _ in planned if path.is_dir()]
    if folders:
        raise ExportWriteError(f"cannot write {folders[0]}: it is a directory; nothing was written")
    existing = [path for path, _ in planned if os.path.lexists(path)]  # a link too, dangling or not
    if existing and not force:
        raise OutputExistsError(existing)
    written: list[Path] = []
    for path, text in planned:
        try:
            atomic.write_file(path, text, replace=force, follow=False)  # a link is replaced, not written through
        except FileExistsError:
            if written:
                raise ExportWriteError(f"file exists: {path}; {_written_before(written)}") from None
            raise OutputExistsError([path]) from None
        except OSError as exc:
            raise ExportWriteError(f"cannot write {path}: {exc.strerror or exc}; {_written_before(written)}") from None
        written.append(path)
    return written


def _written_before(written: Sequence[Path]) -> str:
    """What a failed import had written: each file whole, the rest not at all."""
    if not written:
        return "nothing was written"
    return "written before it: " + ", ".join(str(p) for p in written)


def export(
    client: BuddyClient,
    workspace: str,
    project: str,
    *,
    pipelines: Sequence[str] = (),
    output: Path,
    split: bool = False,
    force: bool = False,
    defaults: bool = False,
    environ: Mapping[str, str] | None = None,
) -> ExportResult:
    """``reconcile import``: write config files for the live pipelines of ``workspace``/``project``
    (only those named in ``pipelines`` when given) under ``output``, so that a plan of them right
    after finds nothing to change.

    Pipelines defined in Buddy YAML are skipped with a note. Raises ``PipelineNotFoundError`` for a
    name no live pipeline has, and ``OutputExistsError`` (before writing anything) when a file to
    write exists and ``force`` is false. ``defaults``: each pipeline's shared action values are written
    once in its ``defaults:``. Files are written atomically (a temporary file, then a rename).
    ``environ``: the environment that login references in the repository's files are read from, to
    tell which credential their variables stand for (``existing.repository_names``). ``result.env``
    lists every variable the written files need, those they inherit from a defaults file too.
    """
    output = Path(output)
    found, notes = read_project(client, workspace, project, pipelines)
    result = ExportResult(notes=list(notes))
    if not found:
        result.notes.append(f"{workspace}/{project}: no pipeline to import; nothing was written")
        return result
    files = layout(output, project, found, split=split)
    repository = repository_names(output, [path for path, _ in files], environ or {})
    env = EnvNames(taken=repository.taken, known=repository.known)
    shared = _shared_names(found)
    planned: list[tuple[Path, str]] = []
    for path, group in files:
        text, file_notes = render_file(
            workspace,
            project,
            group,
            env,
            schema=schema_reference(path.parent),
            shared_names=shared,
            defaults=defaults,
            inherited=reaching(path, output),
        )
        planned.append((path, text))
        result.notes.extend(file_notes)
    declared = declared_elsewhere(output, workspace, project, found, [path for path, _ in planned])
    if declared:
        raise UsageError(
            "; ".join(declared) + f"; nothing was written: a second declaration would make {output} invalid "
            "(remove the existing one first, import into another directory, or leave out that --pipeline)"
        )
    result.files = _write_all(planned, force=force)
    result.env = env.described()
    for name, what in inherited_names(result.files).items():
        result.env.setdefault(name, what)
    return result
