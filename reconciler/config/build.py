"""Config files → the desired model: load, check against the schema, check the rules, build.

This is the one composition the rest of the tool calls. It touches the file system (through the
loader) and nothing else: no network and no environment, so ``validate`` runs anywhere, for example as
a pre-commit hook. ``${env:…}`` references stay unresolved in the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler import fields as field_table
from reconciler.config import defaults, rules, translate
from reconciler.config.loader import collector_paused, load_paths
from reconciler.errors import NoConfigFiles, ValidationFailed
from reconciler.located import Document, PathKey
from reconciler.model import DesiredAction, DesiredPipeline
from reconciler.problems import Location, Problem, sort_problems


@dataclass
class Config:
    """Every declared pipeline, in file order, with what loading found besides."""

    pipelines: list[DesiredPipeline] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # files a directory scan found not to be configs
    files: list[str] = field(default_factory=list)  # config files read, in order
    doubtful: list[str] = field(default_factory=list)  # skipped ones that might declare pipelines


def check_paths(paths: list[str | Path]) -> tuple[list[Document], list[Problem], list[str], list[str]]:
    """Load ``paths`` and run every check; returns the documents, every problem (sorted), the skipped
    files and those of them that might declare pipelines (``LoadResult.doubtful``). Bad input is
    reported as problems, not raised; only paths that hold no config file at all (and nothing wrong
    besides) raise :class:`NoConfigFiles`, so that managing nothing never passes for success."""
    from reconciler.config import schema  # imported here: it loads and compiles the schemas on first use

    # Checking, like loading, makes many objects and no cycles to collect; one pause over both, since
    # each time the collector is enabled again it first walks every object made while it was paused.
    with collector_paused():
        loaded = load_paths(paths)
        problems = list(loaded.problems)
        for doc in loaded.documents:
            problems.extend(translate.translate_2024(doc))
        configs = defaults.apply_defaults(loaded.documents)
        checked = [(doc, schema.check_document(doc) + rules.check_document(doc)) for doc in loaded.documents]
        problems.extend(defaults.relocate(checked))
        problems.extend(rules.check_across(configs))
    if not configs and not any(p.severity == "error" for p in problems):
        raise NoConfigFiles([str(p) for p in paths], len(loaded.skipped), problems)
    return loaded.documents, sort_problems(_unique(problems)), loaded.skipped, loaded.doubtful


def load_config(paths: list[str | Path]) -> Config:
    """Read, check and model the config files that ``paths`` name (files or directories).

    Raises :class:`ValidationFailed` carrying every problem of every file, warnings included and
    sorted, when any of them is an error; otherwise returns the pipelines and the warnings."""
    with collector_paused():  # one pause over loading, checking and building (see ``check_paths``)
        docs, problems, skipped, doubtful = check_paths(paths)
        if any(p.severity == "error" for p in problems):
            raise ValidationFailed(problems, sorted({d.file for d in docs} | {p.location.file for p in problems}))
        pipelines = [pipeline for doc in docs for pipeline in _pipelines(doc)]
    return Config(
        pipelines=pipelines,
        warnings=[p for p in problems if p.severity == "warning"],
        skipped=skipped,
        files=[doc.file for doc in docs],
        doubtful=doubtful,
    )


def _unique(problems: list[Problem]) -> list[Problem]:
    # The schema and a rule can both notice the same thing in the same words (say, a missing name);
    # one report of it is enough.
    return list(dict.fromkeys(problems))


def _pipelines(doc: Document) -> list[DesiredPipeline]:
    data = doc.data
    out: list[DesiredPipeline] = []
    for i, pipeline in enumerate(data.get("pipelines") or []):
        base: PathKey = ("pipelines", i)
        actions = tuple(
            _action(doc, (*base, "actions", j), action) for j, action in enumerate(pipeline.get("actions") or [])
        )
        out.append(
            DesiredPipeline(
                workspace=data["workspace"],
                project=data["project"],
                name=pipeline.get("name"),
                id=pipeline.get("id"),
                prune=pipeline.get("prune"),
                fields={k: v for k, v in pipeline.items() if not field_table.is_ours(k, on="pipeline")},
                actions=actions,
                location=doc.locate(base),
                file=doc.file,
                previous_names=tuple(pipeline.get("previous_names") or ()),
                safety=pipeline.get("safety"),
                prune_pipelines=data.get("prune_pipelines") is True,
            )
        )
    return out


def _action(doc: Document, path: PathKey, action: dict[str, Any]) -> DesiredAction:
    fields = {k: v for k, v in action.items() if not field_table.is_ours(k)}
    locations: dict[str, Location] = {k: doc.locate((*path, k)) for k in fields}
    return DesiredAction(
        name=action["name"],
        type=action["type"],
        fields=fields,
        location=doc.locate(path),
        after=action.get("after"),
        previous_names=tuple(action.get("previous_names") or ()),
        field_locations=locations,
        sources={k: f"{loc.file}:{loc.line}" for k, loc in locations.items() if (*path, k) in doc.inherited},
    )
