"""Plan files: ``plan --out`` writes them and ``apply --plan`` reads them back, checking every field of
the envelope and of each change, so that an edited or damaged file is refused naming the field."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, get_args, overload

from reconciler import atomic
from reconciler.buddy.answers import is_id
from reconciler.config.files import read_config_bytes
from reconciler.errors import LoadError, PlanError, UsageError
from reconciler.model import PipelineKey
from reconciler.plan.changes import BY_KIND, KINDS, Change, CreateAction, CreatePipeline, DeletePipeline, change_of
from reconciler.plan.elements import Op
from reconciler.plan.plan import (
    DECLARED_PIPELINE,
    FORMAT_VERSION,
    SAFETY_KEYS,
    Orphan,
    Plan,
    SafetyWarning,
    Skipped,
    Target,
)
from reconciler.plan.targets import Targeting

#: the largest plan file read back: a plan of the 10,000-action benchmark is a few MiB
MAX_PLAN_BYTES = 64 * 1024 * 1024


def plan_file_text(plan: Plan) -> str:
    """A plan as ``plan --out`` writes it: JSON with ``${env:…}`` references kept, never their values."""
    return json.dumps(plan.to_json(), indent=2, ensure_ascii=False) + "\n"


def write_plan_file(plan: Plan, path: Path) -> None:
    """Write ``plan`` to ``path``: through a symlink to its target (the link stays), straight into a
    FIFO or device (``/dev/stdout``), and atomically into a regular file (a uniquely named temporary
    file beside it, then a rename; removed when the write fails)."""
    try:
        atomic.write_file(path, plan_file_text(plan))
    except OSError as exc:
        raise UsageError(f"cannot write the plan to {path}: {exc.strerror or exc}") from None


def read_plan_file(path: Path) -> Plan:
    """A plan written by ``plan --out``, read back for ``apply --plan``."""
    try:  # a regular file of bounded size: never blocks on a FIFO nor reads /dev/zero forever
        data = read_config_bytes(path, limit=MAX_PLAN_BYTES, what="a plan file")
    except LoadError as exc:
        raise UsageError(f"cannot read the plan file {path}: {exc.reason}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PlanError(f"{path} is not a plan file (not UTF-8 text)") from None
    return load_plan_file(text, str(path))


def load_plan_file(text: str, source: str) -> Plan:
    """A plan written by ``plan --out``, read back for ``apply --plan``."""
    try:
        data = json.loads(text, parse_constant=_not_json)
    except ValueError as exc:
        raise PlanError(f"{source} is not JSON ({exc})") from None
    except RecursionError:
        raise PlanError(f"{source} is not a plan file (nested too deeply)") from None
    return plan_from_json(data, source=source)


def plan_from_json(data: Any, *, source: str = "plan file") -> Plan:
    """A plan read back from a plan file: the envelope and every change checked, so that an edited
    file is refused with a ``PlanError`` naming the field (``changes[3].pipeline_id: …``)."""
    check = Checker(source)
    if not isinstance(data, dict) or type(data.get("format_version")) is not int:
        raise PlanError(f"{source} is not a plan of format_version {FORMAT_VERSION}")
    if data["format_version"] != FORMAT_VERSION:
        raise PlanError(
            f"{source} is a plan of format_version {data['format_version']}; this reconcile reads "
            f"format_version {FORMAT_VERSION}: make the plan again"
        )
    target = check.object(data.get("target"), "target")
    changes = [change_of(**check.change(item, f"changes[{i}]")) for i, item in enumerate(check.array(data, "changes"))]
    check.anchors(changes)
    orphans = [check.orphan(item, f"not_managed[{i}]") for i, item in enumerate(check.array(data, "not_managed", True))]
    _check_deletes(changes, orphans, source)
    return Plan.of(
        Target(
            base_url=check.text(target, "base_url", "target"),
            tool_version=check.text(target, "tool_version", "target", optional=True) or "",
        ),
        changes,
        skipped=[check.skipped(item, f"skipped[{i}]") for i, item in enumerate(check.array(data, "skipped", True))],
        warnings=[SafetyWarning.read(w) for w in check.texts(data, "warnings")],
        errors=check.texts(data, "errors"),
        fingerprints=check.fingerprints(data.get("fingerprints")),
        declared=check.declared(data.get("declared", {})),
        targeting=check.targeting(data.get("targeting")),
        safety=check.safety(data.get("safety", {})),
        orphans=orphans,
        project_pipelines=check.counts(data.get("project_pipelines", {}), "project_pipelines"),
    )


def _check_deletes(changes: list[Change], orphans: list[Orphan], source: str) -> None:
    """Refuse a change made twice, and a pipeline delete that the plan's own list of pipelines no file
    declares does not name as deletable: only an edit makes either (a declared pipeline deleted)."""
    seen: set[tuple[Any, ...]] = set()
    for i, change in enumerate(changes):
        # by id where there is one: a name is only what the file says it is
        pipeline = change.pipeline if change.pipeline_id is None else change.pipeline_id
        action = change.action_name if change.action_id is None else change.action_id
        what: tuple[Any, ...] = (type(change), change.workspace, change.project, pipeline, action)
        if what in seen:
            raise PlanError(
                f"{source}: changes[{i}] repeats an earlier change: the file was edited; make the plan again"
            )
        seen.add(what)
    deletable = {(o.workspace, o.project, o.pipeline_id) for o in orphans if o.kept is None}
    for i, change in enumerate(changes):
        if (
            isinstance(change, DeletePipeline)
            and (change.workspace, change.project, change.pipeline_id) not in deletable
        ):
            raise PlanError(
                f"{source}: changes[{i}] deletes pipeline #{change.pipeline_id}, which the plan does not list as "
                "a pipeline no file declares: the file was edited; make the plan again"
            )


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


# -- checking a plan file ----------------------------------------------------------------------------

_INT_FIELDS = ("pipeline_id", "action_id", "after_action_id")
_TEXT_FIELDS = ("action_name", "after_action_name", "after_renamed_from", "reason")


def _shown(value: Any) -> str:
    """A value for a message: scalars as JSON (cut short), containers by their kind."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:60] + "…"


class Checker:
    """Checks the parts of a plan file, raising a ``PlanError`` that names the file and the field."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, expected: str, value: Any) -> PlanError:
        """The error for a field at ``where`` that is not ``expected`` (the value shown only by its kind
        or cut short); the caller raises it."""
        return PlanError(f"{self.source} is malformed: {where}: expected {expected}, got {_shown(value)}")

    def object(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, "an object", value)
        return value

    def array(self, data: Mapping[str, Any], key: str, optional: bool = False) -> list[Any]:
        value = data.get(key, [] if optional else None)
        if not isinstance(value, list):
            raise self.fail(key, "a list", value)
        return value

    @overload
    def text(self, data: Mapping[str, Any], key: str, where: str, *, optional: Literal[False] = False) -> str: ...
    @overload
    def text(self, data: Mapping[str, Any], key: str, where: str, *, optional: bool) -> str | None: ...
    def text(self, data: Mapping[str, Any], key: str, where: str, *, optional: bool = False) -> str | None:
        """``data[key]`` as a non-empty string (``None`` allowed when ``optional``)."""
        value = data.get(key)
        if (value is None and optional) or (isinstance(value, str) and value):
            return value
        raise self.fail(f"{where}.{key}", "a non-empty string" + (" or null" if optional else ""), value)

    def integer(self, data: Mapping[str, Any], key: str, where: str, *, optional: bool = True) -> int | None:
        value = data.get(key)
        if (value is None and optional) or is_id(value):
            return value
        raise self.fail(f"{where}.{key}", "an integer" + (" or null" if optional else ""), value)

    def texts(self, data: Mapping[str, Any], key: str) -> list[str]:
        items = self.array(data, key, optional=True)
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise self.fail(f"{key}[{i}]", "a string", item)
        return list(items)

    def change(self, data: Any, where: str) -> dict[str, Any]:
        """The keyword arguments of a ``Change``, each field checked against its type and its kind."""
        data = self.object(data, where)
        kind = data.get("kind")
        if kind not in KINDS:
            raise self.fail(f"{where}.kind", "one of " + ", ".join(KINDS), kind)
        out: dict[str, Any] = {"kind": kind}
        for key in ("workspace", "project", "pipeline"):
            out[key] = self.text(data, key, where)
        needs = BY_KIND[kind].needs
        for key in _INT_FIELDS:
            out[key] = self.integer(data, key, where, optional=key not in needs)
        for key in _TEXT_FIELDS:
            out[key] = self.text(data, key, where, optional=key not in needs)
        fields_ = data.get("fields")
        if fields_ is not None or "fields" in needs:
            self.object(fields_, f"{where}.fields")
        out["fields"] = fields_
        out["diff"] = self.diff(data.get("diff"), f"{where}.diff")
        out["sources"] = self.sources(data.get("sources"), f"{where}.sources")
        if BY_KIND[kind] is CreatePipeline and out["pipeline_id"] is not None:
            raise self.fail(f"{where}.pipeline_id", "null (the pipeline does not exist yet)", out["pipeline_id"])
        return out

    def diff(self, value: Any, where: str) -> dict[str, Any] | None:
        if value is None:
            return None
        for key, entry in self.object(value, where).items():
            entry = self.object(entry, f"{where}.{key}")
            paths = entry.get("paths", [])
            if not isinstance(paths, list):
                raise self.fail(f"{where}.{key}.paths", "a list", paths)
            for i, step in enumerate(paths):
                self.path_change(step, f"{where}.{key}.paths[{i}]")
        return value

    def sources(self, value: Any, where: str) -> dict[str, str] | None:
        """A change's ``sources``: field name → where a defaults block gives it."""
        if value is None:
            return None
        for key, text in self.object(value, where).items():
            if not isinstance(text, str):
                raise self.fail(f"{where}.{key}", "a string", text)
        return dict(value)

    def path_change(self, value: Any, where: str) -> None:
        """One element-level entry of a diff, as ``elements.PathChange.to_json`` writes it."""
        step = self.object(value, where)
        self.text(step, "path", where)
        if step.get("op") not in get_args(Op):
            raise self.fail(f"{where}.op", "one of " + ", ".join(get_args(Op)), step.get("op"))

    def anchors(self, changes: Sequence[Change]) -> None:
        """Every change has a pipeline to act on, and every anchor by name is created before it."""
        created: dict[PipelineKey, set[str]] = {}
        made: set[tuple[str, str, str]] = set()
        for i, change in enumerate(changes):
            names = created.setdefault(change.key, set())
            if isinstance(change, CreatePipeline):
                made.add((change.workspace, change.project, change.pipeline))
            elif change.pipeline_id is None and (change.workspace, change.project, change.pipeline) not in made:
                raise self.fail(
                    f"changes[{i}].pipeline_id", "an integer (no earlier change creates this pipeline)", None
                )
            anchor = change.after_action_name
            if (
                isinstance(change, CreateAction)
                and change.after_action_id is None
                and anchor is not None
                and anchor not in names
            ):
                raise PlanError(
                    f"{self.source} is malformed: changes[{i}].after_action_name: {_shown(anchor)} is not "
                    "created earlier in this pipeline by the plan (an anchor without after_action_id must be)"
                )
            if isinstance(change, CreateAction) and change.action_name:
                names.add(change.action_name)

    def skipped(self, data: Any, where: str) -> Skipped:
        data = self.object(data, where)
        return Skipped(
            self.text(data, "workspace", where, optional=True) or "",
            self.text(data, "project", where, optional=True) or "",
            self.text(data, "pipeline", where) or "",
            self.integer(data, "pipeline_id", where),
            self.text(data, "reason", where) or "",
        )

    def orphan(self, data: Any, where: str) -> Orphan:
        """One live pipeline no file declares (``not_managed``)."""
        data = self.object(data, where)
        pipeline_id = self.integer(data, "pipeline_id", where, optional=False)
        assert pipeline_id is not None
        return Orphan(
            self.text(data, "workspace", where),
            self.text(data, "project", where),
            pipeline_id,
            self.text(data, "name", where),
            self.text(data, "kept", where, optional=True),
        )

    def counts(self, value: Any, where: str) -> dict[str, int]:
        """``{"workspace/project": count}``: whole numbers of 0 or more."""
        out: dict[str, int] = {}
        for key, number in self.object(value, where).items():
            if isinstance(number, bool) or not isinstance(number, int) or number < 0:
                raise self.fail(f"{where}[{json.dumps(key, ensure_ascii=False)}]", "a whole number", number)
            out[key] = number
        return out

    def fingerprints(self, value: Any) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, print_ in self.object(value, "fingerprints").items():
            where = f"fingerprints[{json.dumps(key, ensure_ascii=False)}]"
            if not isinstance(print_, str) or not print_:
                raise self.fail(where, "a non-empty string", print_)
            out[str(self.key(key, where))] = print_
        return out

    def declared(self, value: Any) -> dict[str, dict[str, list[str]]]:
        out: dict[str, dict[str, list[str]]] = {}
        for key, actions in self.object(value, "declared").items():
            where = f"declared[{json.dumps(key, ensure_ascii=False)}]"
            key = str(self.key(key, where))
            inner: dict[str, list[str]] = {}
            for action_id, names in self.object(actions, where).items():
                if action_id != DECLARED_PIPELINE and (not action_id.isdigit() or not action_id.isascii()):
                    raise self.fail(f"{where} key", "an action id (digits)", action_id)
                if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                    raise self.fail(f"{where}[{json.dumps(action_id)}]", "a list of field names", names)
                inner[action_id] = list(names)
            out[key] = inner
        return out

    def targeting(self, value: Any) -> Targeting | None:
        if value is None:
            return None
        try:
            return Targeting.from_json(self.object(value, "targeting"))
        except (KeyError, TypeError, ValueError):
            raise self.fail("targeting", "the --target/--exclude patterns the plan was made with", value) from None

    def safety(self, value: Any) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for key, limits in self.object(value, "safety").items():
            where = f"safety[{json.dumps(key, ensure_ascii=False)}]"
            inner: dict[str, int] = {}
            for name, number in self.object(limits, where).items():
                if name not in SAFETY_KEYS:
                    raise self.fail(f"{where} key", "one of " + ", ".join(SAFETY_KEYS), name)
                if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= 100:
                    raise self.fail(f"{where}.{name}", "a whole percentage from 0 to 100", number)
                inner[name] = number
            out[str(self.key(key, where))] = inner
        return out

    def key(self, text: str, where: str) -> PipelineKey:
        try:
            return PipelineKey.parse(text)
        except ValueError:
            raise self.fail(
                where, "a pipeline key (workspace/project/ID or workspace/project/name:NAME)", text
            ) from None
