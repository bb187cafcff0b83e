"""Semantic checks that a JSON Schema cannot say, run after the schema check.

The rules see data the schema may already have refused, so each one looks before it leaps: a value of
an unexpected type is simply not checked here (the schema reports it) and no rule ever raises.

Every problem is located (file:line:col of the offending value, or of the mapping that lacks a key) and
carries the JSON path. No message repeats a value that could be a secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from typing import Any, TypeVar

from reconciler import envrefs, fields
from reconciler.located import Document, PathKey
from reconciler.model import PipelineKey
from reconciler.problems import Location, Problem, Severity, json_path

#: Platforms BuildKit's multi-arch builders offer on Buddy's runners: the four the 2024 page lists
#: plus the other Linux targets of the official Docker images (386, ppc64le, s390x, riscv64). Anything
#: else that is shaped right is only a warning: the server decides, and new platforms appear.
KNOWN_PLATFORMS = frozenset(
    {
        "linux/amd64",
        "linux/arm64",
        "linux/arm/v7",
        "linux/arm/v6",
        "linux/386",
        "linux/ppc64le",
        "linux/s390x",
        "linux/riscv64",
    }
)
_PLATFORM = re.compile(r"[a-z0-9_.-]+/[a-z0-9_.-]+(/[a-z0-9_.-]+)?")
#: A Buddy variable standing for a whole write-only value: ``$NAME`` or ``${NAME}``.
_BUDDY_VARIABLE = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*|\{[A-Za-z_][A-Za-z0-9_]*\})")
_K = TypeVar("_K")
_T = TypeVar("_T")
_PASSWORD_HINT = "write `password: ${env:DOCKERHUB_TOKEN}` and set the variable in CI"


def check_documents(docs: list[Document]) -> list[Problem]:
    """Every semantic problem of ``docs``, including those that span files (a pipeline declared twice)."""
    problems: list[Problem] = []
    for doc in docs:
        problems.extend(check_document(doc))
    problems.extend(check_across(docs))
    return problems


def check_document(doc: Document) -> list[Problem]:
    """The semantic problems of one document (its actions as they are, defaults applied or not, and
    its own defaults blocks)."""
    return _check_document(doc)


def check_across(docs: list[Document]) -> list[Problem]:
    """The problems that span files: a pipeline declared twice, or claimable by two declarations."""
    return _check_pipelines_declared_once(docs) + _check_pipeline_claims(docs) + _check_prune_pipelines(docs)


def _check_prune_pipelines(docs: list[Document]) -> list[Problem]:
    """Every file of one project says the same ``prune_pipelines`` (absent is ``false``): deleting the
    pipelines no file declares is the project's decision, not one file's."""
    first: dict[tuple[str, str], tuple[bool, Location]] = {}
    problems: list[Problem] = []
    for doc in docs:
        data = doc.data
        if not isinstance(data, dict) or not isinstance(data.get("pipelines"), list):
            continue
        workspace, project = data.get("workspace"), data.get("project")
        if not isinstance(workspace, str) or not isinstance(project, str):
            continue
        value = data.get("prune_pipelines") is True
        where = doc.locate(("prune_pipelines",)) if "prune_pipelines" in data else doc.locate(())
        seen = first.setdefault((workspace, project), (value, where))
        if seen[0] != value:
            problems.append(
                Problem(
                    where,
                    "$.prune_pipelines",
                    f"prune_pipelines is {str(value).lower()} here but {str(seen[0]).lower()} in {seen[1]}, another "
                    f"file of {workspace}/{project}: every file of a project must agree (absent is false)",
                )
            )
    return problems


class _Report:
    """Collects problems for one document, locating them by path."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.problems: list[Problem] = []

    def add(self, path: PathKey, message: str, severity: Severity = "error", *, key: bool = False) -> None:
        self.problems.append(Problem(self.doc.locate(path, key=key), json_path(path), message, severity))


def _check_document(doc: Document) -> list[Problem]:
    report = _Report(doc)
    _check_env_refs(report, doc.data, ())
    data = doc.data
    if not isinstance(data, dict):
        return report.problems
    _check_defaults_block(report, ("defaults",), data.get("defaults"))
    pipelines = data.get("pipelines")
    if not isinstance(pipelines, list):
        return report.problems
    for i, pipeline in enumerate(pipelines):
        if not isinstance(pipeline, dict):
            continue
        base: PathKey = ("pipelines", i)
        if pipeline.get("name") is None and pipeline.get("id") is None:
            report.add(base, "a pipeline needs a `name` (or the `id` of a live pipeline)")
        _check_identity(report, base, pipeline, "pipeline")
        _check_defaults_block(report, (*base, "defaults"), pipeline.get("defaults"))
        actions = pipeline.get("actions")
        if isinstance(actions, list):
            _check_actions(report, base, actions)
    return report.problems


# ---------------------------------------------------------------------------------------------------
# Env references: well-formed, and in values only


def _check_env_refs(report: _Report, value: Any, path: PathKey) -> None:
    # Every value of the file is walked, so the walk is kept cheap: a string is tested right where it
    # is met (most hold no reference at all), and a path is built only for a collection or a problem.
    if isinstance(value, str):
        _check_env_text(report, value, path)
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and envrefs.OPEN in key and envrefs.mentions_env(key):
                report.add(
                    (*path, key),
                    "an `${env:…}` reference may stand only in a value, not in a key",
                    key=True,
                )
            if item.__class__ is str:
                if envrefs.OPEN in item:
                    _check_env_text(report, item, (*path, key))
            elif isinstance(item, dict | list | str):
                _check_env_refs(report, item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if item.__class__ is str:
                if envrefs.OPEN in item:
                    _check_env_text(report, item, (*path, index))
            elif isinstance(item, dict | list | str):
                _check_env_refs(report, item, (*path, index))


def _check_env_text(report: _Report, value: str, path: PathKey) -> None:
    if envrefs.OPEN in value:
        for message in _scanned(value)[0]:
            report.add(path, message)


@lru_cache(maxsize=4096)
def _scanned(value: str) -> tuple[tuple[str, ...], tuple[envrefs.EnvRef, ...]]:
    """The syntax errors and the references of a string holding ``${env:``, scanned once: the same
    reference (``password: ${env:REGISTRY_TOKEN}``) stands in thousands of actions."""
    return tuple(envrefs.syntax_errors(value)), tuple(envrefs.find_refs(value))


# ---------------------------------------------------------------------------------------------------
# Actions


def _check_actions(report: _Report, base: PathKey, actions: list[Any]) -> None:
    declared: dict[str, PathKey] = {}
    for j, action in enumerate(actions):
        if not isinstance(action, dict):
            continue
        name = action.get("name")
        path = (*base, "actions", j)
        if isinstance(name, str):
            if name in declared:
                first = report.doc.locate((*declared[name], "name"))
                report.add(
                    (*path, "name"),
                    f'action name "{name}" is used twice in this pipeline (first at line {first.line}); '
                    "an action's name is its identity and must be unique",
                )
            else:
                declared[name] = path
        _check_action(report, path, action)
    _check_previous_names(report, base, actions, declared)


def _check_previous_names(report: _Report, base: PathKey, actions: list[Any], declared: dict[str, PathKey]) -> None:
    previous = [
        (old, (*base, "actions", j, "previous_names", k))
        for j, action in enumerate(actions)
        if isinstance(action, dict) and isinstance(action.get("previous_names"), list)
        for k, old in enumerate(action["previous_names"])
        if isinstance(old, str)
    ]
    for old, path, first, is_name in clashing_previous_names(declared, previous):
        if is_name:
            report.add(
                path,
                f'previous name "{old}" is the name of a declared action of this pipeline; '
                "a rename needs an old name that no declared action uses",
            )
        else:
            report.add(
                path,
                f'previous name "{old}" is given more than once in this pipeline '
                f"(first at line {report.doc.locate(first).line}); a live action can be renamed only once",
            )


def clashing_previous_names(
    names: Mapping[_K, _T], previous: Iterable[tuple[_K, _T]]
) -> Iterator[tuple[_K, _T, _T, bool]]:
    """Each previous name by which two declarations could claim one live object (an action of a
    pipeline, a pipeline of a project): ``(name, here, first, is_a_name)``, ``first`` being where a
    declared name (``is_a_name``) or an earlier previous name already claims it. Shared by the action
    and the pipeline rules."""
    claimed: dict[_K, _T] = {}
    for old, here in previous:
        if old in names:
            yield old, here, names[old], True
        elif old in claimed:
            yield old, here, claimed[old], False
        else:
            claimed[old] = here


def _check_defaults_block(report: _Report, path: PathKey, block: Any) -> None:
    """A defaults block's own values, checked even when no action takes them: only the checks that
    need no other field (a block is a partial action: what it lacks, the action may give)."""
    if isinstance(block, dict):
        _check_write_only(report, path, block)
        _check_target_platform(report, path, block)


def _check_identity(report: _Report, path: PathKey, item: dict[str, Any], what: str) -> None:
    """Names are identity: an env reference in one would be sent resolved but matched unresolved, so
    nothing would ever match and every apply would create another copy."""
    why = (
        "is not allowed here: names are identity, and a name with a reference would be sent resolved but "
        f"matched as written, so every apply would create another {what}; write the name literally"
    )
    name = item.get("name")
    if isinstance(name, str) and name and not name.strip():
        report.add((*path, "name"), f"the {what}'s name must not be blank: Buddy refuses a name of only spaces")
    for key, label in (("name", f"the {what}'s name"), ("after", "`after`")):
        value = item.get(key)
        if isinstance(value, str) and envrefs.OPEN in value:
            report.add((*path, key), f"an `${{env:…}}` reference in {label} {why}")
    previous = item.get("previous_names")
    if isinstance(previous, list):
        for k, old in enumerate(previous):
            if isinstance(old, str) and envrefs.OPEN in old:
                report.add((*path, "previous_names", k), f"an `${{env:…}}` reference in `previous_names` {why}")


def _check_action(report: _Report, path: PathKey, action: dict[str, Any]) -> None:
    _check_identity(report, path, action, "action")
    after = action.get("after")
    if isinstance(after, str) and not after.strip():
        report.add((*path, "after"), "`after` must name an action (it is empty)")

    _check_trigger_time(report, path, action)
    _check_write_only(report, path, action)
    _check_target_platform(report, path, action)

    if action.get("docker_registry") == "AMAZON_ECR" and not _present(action.get("region")):
        report.add(
            path if "region" not in action else (*path, "region"),
            "`docker_registry: AMAZON_ECR` needs a `region` (for example `region: eu-west-1`)",
            "warning",  # beyond the reference page, which does not state it
        )
    if action.get("use_image_from_action") is True and not (
        _present(action.get("docker_build_action_id")) or _present(action.get("docker_build_action_name"))
    ):
        report.add(
            (*path, "use_image_from_action"),
            "`use_image_from_action: true` needs `docker_build_action_name` (or `docker_build_action_id`)",
            "warning",  # beyond the reference page, which does not state it
        )
    if action.get("retry_interval") is not None and action.get("retry_count") is None:
        report.add(
            (*path, "retry_interval"),
            "`retry_interval` has no effect without `retry_count`",
            "warning",
        )


def _present(value: Any) -> bool:
    return value is not None and value != ""


def _check_trigger_time(report: _Report, path: PathKey, action: dict[str, Any]) -> None:
    # The API: run_only_on_first_failure is "restricted to and required if the trigger_time is
    # ON_FAILURE". An explicit null elsewhere means "unset", which is what the restriction asks.
    on_failure = action.get("trigger_time") == "ON_FAILURE"
    flag = action.get("run_only_on_first_failure")
    if on_failure and flag is None:
        report.add(
            (*path, "trigger_time"),
            "`trigger_time: ON_FAILURE` requires `run_only_on_first_failure` (true or false)",
        )
    elif not on_failure and flag is not None:
        report.add(
            (*path, "run_only_on_first_failure"),
            "`run_only_on_first_failure` is allowed only with `trigger_time: ON_FAILURE`",
        )


def _check_write_only(report: _Report, path: PathKey, action: dict[str, Any]) -> None:
    """Every write-only value (the field table's: ``password``, ``secrets[].value``, …) must come from
    the environment or from Buddy, never stand in the file: a whole ``${env:NAME}`` without a
    default, or a whole Buddy ``$VARIABLE``."""
    holding = fields.table().write_only_fields
    for name, value in action.items():
        if name not in holding:
            continue
        for parts, secret in fields.write_only_values(name, value):
            if isinstance(secret, str) and secret != "":  # null or "" means "unset"; another type is the schema's
                _check_plaintext(report, (*path, name, *parts), fields.label(name, parts), secret)


def _check_plaintext(report: _Report, where: PathKey, label: str, value: str) -> None:
    errors, refs = _scanned(value) if envrefs.OPEN in value else ((), ())
    if errors:
        return  # already reported by the env-reference check
    if len(refs) == 1 and refs[0].span == (0, len(value)):
        if refs[0].default is not None:
            report.add(where, f"`{label}` must not have a `:-default`: a default would be a plaintext secret")
        return
    if _BUDDY_VARIABLE.fullmatch(value):
        if value.startswith("${"):  # shell syntax, the likely slip for ${env:NAME}
            name = value[2:-1]
            report.add(
                where,
                f"`${{{name}}}` is not expanded by reconcile: Buddy receives it literally (as a Buddy variable "
                f"of that name); for the environment variable {name}, write `${{env:{name}}}`",
                "warning",
            )
        return
    # Never echo the value: it is most likely the very secret that must not be in the file.
    hint = _PASSWORD_HINT if label == "password" else "write `${env:NAME}` there and set the variable in CI"
    report.add(
        where,
        f"`{label}` must not be plaintext: use an `${{env:NAME}}` reference or a Buddy `$VARIABLE` "
        f"as the whole value; {hint}",
    )


def _check_target_platform(report: _Report, path: PathKey, action: dict[str, Any]) -> None:
    value = action.get("target_platform")
    if not isinstance(value, str) or "$" in value:
        return  # a variable is expanded later, by us or by Buddy: its shape is unknown here
    where = (*path, "target_platform")
    unknown: list[str] = []
    for entry in value.split(","):
        platform = entry.strip()
        if not _PLATFORM.fullmatch(platform):
            shown = f'"{platform}"' if platform else "an empty entry"
            report.add(
                where,
                f"`target_platform` entries are comma-separated `os/arch[/variant]` "
                f"(e.g. linux/amd64,linux/arm64); {shown} is not",
            )
        elif platform not in KNOWN_PLATFORMS:
            unknown.append(platform)
    if unknown:
        report.add(
            where,
            f"unknown platform(s) {', '.join(unknown)}; known: {', '.join(sorted(KNOWN_PLATFORMS))}",
            "warning",
        )


# ---------------------------------------------------------------------------------------------------
# Across files


def _pipelines_of(doc: Document) -> Iterator[tuple[str, str, int, dict[str, Any]]]:
    """(workspace, project, index, mapping) of every pipeline ``doc`` declares."""
    data = doc.data
    if not isinstance(data, dict):
        return
    workspace, project, pipelines = data.get("workspace"), data.get("project"), data.get("pipelines")
    if not isinstance(workspace, str) or not isinstance(project, str) or not isinstance(pipelines, list):
        return
    for i, pipeline in enumerate(pipelines):
        if isinstance(pipeline, dict):
            yield workspace, project, i, pipeline


def _declarations(doc: Document) -> Iterator[tuple[PipelineKey, PathKey, str]]:
    """(key, path, label) of every pipeline ``doc`` declares, by name and by id."""
    for workspace, project, i, pipeline in _pipelines_of(doc):
        name, ident = pipeline.get("name"), pipeline.get("id")
        if isinstance(name, str):
            yield PipelineKey(workspace, project, None, name), ("pipelines", i), f'"{name}"'
        if isinstance(ident, int) and not isinstance(ident, bool):
            yield PipelineKey(workspace, project, ident), ("pipelines", i), f"#{ident}"


def _check_pipeline_claims(docs: list[Document]) -> list[Problem]:
    """Two declarations that could claim one live pipeline through ``previous_names`` (one's previous
    name is another's name, or two give one previous name), as for actions, both places named."""
    names: dict[tuple[str, str, str], tuple[Location, str]] = {}
    previous: list[tuple[tuple[str, str, str], tuple[Location, str]]] = []
    for doc in docs:
        for workspace, project, i, pipeline in _pipelines_of(doc):
            if isinstance(pipeline.get("name"), str):
                at: PathKey = ("pipelines", i)
                names.setdefault((workspace, project, pipeline["name"]), (doc.locate(at), json_path(at)))
            olds = pipeline.get("previous_names")
            for k, old in enumerate(olds if isinstance(olds, list) else []):
                if isinstance(old, str):
                    path: PathKey = ("pipelines", i, "previous_names", k)
                    previous.append(((workspace, project, old), (doc.locate(path), json_path(path))))
    problems: list[Problem] = []
    for (workspace, project, old), (here, where), (first, _), is_name in clashing_previous_names(names, previous):
        clash = (
            f"is the name of the pipeline declared at {first}: both declarations could claim one live pipeline; "
            "a rename needs an old name that no other declaration uses"
            if is_name
            else f"is given by two declarations (first at {first}): a live pipeline can be renamed only once"
        )
        problems.append(Problem(here, where, f'previous name "{old}" of {workspace}/{project} {clash}'))
    return problems


def _check_pipelines_declared_once(docs: list[Document]) -> list[Problem]:
    problems: list[Problem] = []
    first: dict[PipelineKey, Location] = {}
    for doc in docs:
        for key, path, label in _declarations(doc):
            where = doc.locate(path)
            if key not in first:
                first[key] = where
                continue
            problems.append(
                Problem(
                    where,
                    json_path(path),
                    f"pipeline {label} of {key.workspace}/{key.project} is declared twice: in {first[key]} "
                    f"and in {where}; declare each pipeline in one file only",
                )
            )
    return problems
