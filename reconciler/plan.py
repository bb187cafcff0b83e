"""The plan as a value: ordered changes, a summary, fingerprints, the safety check, JSON in and out.

``plan`` builds it, ``render`` prints it, ``apply`` consumes it. A plan file keeps ``${env:…}``
references, never their values; ``apply --plan`` resolves them again.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import stat
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from reconciler import __version__, fields
from reconciler.errors import PlanError, UnsafePlanError, UsageError
from reconciler.model import LivePipeline, PipelineKey

if TYPE_CHECKING:
    from reconciler.diff import PipelineDiff

FORMAT_VERSION = 1
ChangeKind = Literal["create_pipeline", "create", "update", "delete"]
KINDS: tuple[ChangeKind, ...] = ("create_pipeline", "create", "update", "delete")
#: A pipeline with at least this many live actions is subject to the safety threshold.
SAFETY_MIN_ACTIONS = 5
SAFETY_RATIO = 0.30


@dataclass(frozen=True)
class Change:
    """One request that apply will make. ``fields`` is exactly what will be sent (references kept)."""

    kind: ChangeKind
    workspace: str
    project: str
    pipeline: str
    pipeline_id: int | None
    action_name: str | None = None
    action_id: int | None = None
    after_action_id: int | None = None
    after_action_name: str | None = None
    fields: Mapping[str, Any] | None = None
    diff: Mapping[str, Mapping[str, Any]] | None = None
    reason: str | None = None
    #: write-only fields whose ``${env:…}`` variable is not set at plan time (shown, not serialised)
    unset_sensitive: tuple[str, ...] = field(default=(), compare=False)

    @property
    def key(self) -> PipelineKey:
        return PipelineKey.of(self.workspace, self.project, self.pipeline_id, self.pipeline)

    @property
    def pipeline_key(self) -> str:
        """The plan file's spelling of ``key``."""
        return str(self.key)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("unset_sensitive")
        return data

    @classmethod
    def from_json(cls, data: Any, *, where: str = "change", source: str = "plan file") -> Change:
        """A change read back from a plan file, every field checked (``PlanError`` naming the field)."""
        check = _Checker(source)
        check.object(data, where)
        return cls(**check.change(data, where))


@dataclass(frozen=True)
class Skipped:
    workspace: str
    project: str
    pipeline: str
    pipeline_id: int | None
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "pipeline": self.pipeline,
            "pipeline_id": self.pipeline_id,
            "reason": self.reason,
            "workspace": self.workspace,
            "project": self.project,
        }


@dataclass(frozen=True)
class Target:
    base_url: str
    tool_version: str = __version__


def fingerprint(actions: Iterable[tuple[int, str, str]], declared: Mapping[int, Mapping[str, Any]]) -> str:
    """sha256 over what a plan depends on: the ordered (id, name, type) of every live action and, per
    declared live action, the live values of its declared fields (write-only ones excluded)."""
    payload = {
        "actions": [list(a) for a in actions],
        "declared": {str(k): dict(sorted(v.items())) for k, v in sorted(declared.items())},
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def live_fingerprint(
    live: LivePipeline, details: Mapping[int, Mapping[str, Any]], declared: Mapping[int, Sequence[str]]
) -> str:
    """SPEC.md's fingerprint of a live pipeline, given which fields of which actions are declared."""
    values = {
        action_id: {k: details.get(action_id, {}).get(k) for k in names if not fields.is_write_only(k)}
        for action_id, names in declared.items()
    }
    return fingerprint([(a.id, a.name, a.type) for a in live.actions], values)


#: The fingerprint of a pipeline the plan creates: it must still be absent on apply.
ABSENT = "absent"
#: What a re-read finds where the plan expected ``ABSENT``: a pipeline of that name now exists.
PRESENT = "present"


@dataclass
class Plan:
    """Everything ``apply`` needs and a reviewer reads. ``changes`` are in the order they will be made."""

    target: Target
    changes: list[Change] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    fingerprints: dict[str, str] = field(default_factory=dict)
    #: per pipeline key: declared live action id → its declared field names (to re-fingerprint on apply)
    declared: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    #: live action count per pipeline key, for the safety check (not serialised: re-read on apply)
    live_counts: dict[str, int] = field(default_factory=dict)

    @property
    def summary(self) -> dict[str, int]:
        counts = Counter(c.kind for c in self.changes)
        return {
            "create": counts["create"],
            "update": counts["update"],
            "delete": counts["delete"],
            "create_pipeline": counts["create_pipeline"],
        }

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    def pipelines(self) -> list[tuple[str, list[Change]]]:
        """Changes grouped by pipeline key, in plan order."""
        groups: dict[str, list[Change]] = {}
        for change in self.changes:
            groups.setdefault(change.pipeline_key, []).append(change)
        return list(groups.items())

    # -- assembling ---------------------------------------------------------------------------------

    def add_pipeline(self, result: PipelineDiff) -> None:
        """Take in one pipeline's diff: its changes, warnings, fingerprint, live count, declared fields."""
        self.changes.extend(result.changes)
        self.warnings.extend(result.warnings)
        self.fingerprints[result.fingerprint_key] = result.fingerprint
        self.live_counts[result.fingerprint_key] = result.live_count
        if result.declared:
            self.declared[result.fingerprint_key] = result.declared

    def add_error(self, workspace: str, project: str, pipeline: str, reason: str) -> None:
        """One pipeline could not be planned; the others go on."""
        self.errors.append(f'{workspace}/{project} pipeline "{pipeline}": {reason}')

    def add_skipped(self, skipped: Skipped) -> None:
        self.skipped.append(skipped)

    def add_safety_warnings(self) -> None:
        """The safety check of apply, shown as a warning in the plan (and kept in a saved plan)."""
        self.warnings.extend(f"apply would refuse this without --force: {reason}" for reason in self.unsafe())

    # -- safety ------------------------------------------------------------------------------------

    def unsafe(self, live_counts: Mapping[str, int] | None = None) -> list[str]:
        """Why the plan is unsafe: per pipeline with 5+ live actions, deletes or updates over 30%."""
        counts = live_counts if live_counts is not None else self.live_counts
        reasons: list[str] = []
        for key, changes in self.pipelines():
            live = counts.get(key, 0)
            if live < SAFETY_MIN_ACTIONS:
                continue
            tally = Counter(c.kind for c in changes)
            name = changes[0].pipeline
            for kind, verb in (("delete", "deletes"), ("update", "updates")):
                if tally[kind] > SAFETY_RATIO * live:
                    reasons.append(
                        f'pipeline "{name}" ({changes[0].workspace}/{changes[0].project}): {tally[kind]} '
                        f"{verb} of {live} live actions (of any type) is over {SAFETY_RATIO:.0%}"
                    )
        return reasons

    def raise_if_unsafe(self, *, force: bool, live_counts: Mapping[str, int] | None = None) -> None:
        """Refuse a plan over the safety threshold, unless ``force``."""
        reasons = self.unsafe(live_counts)
        if reasons and not force:
            raise UnsafePlanError(
                "refusing to apply: " + "; ".join(reasons) + ". Nothing was changed. Review the plan and "
                "re-run with --force if this is intended."
            )

    # -- JSON --------------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "changes": [c.to_json() for c in self.changes],
            "summary": self.summary,
            "skipped": [s.to_json() for s in self.skipped],
            "warnings": list(self.warnings),
            "errors": list(self.errors),
            "target": {"base_url": self.target.base_url, "tool_version": self.target.tool_version},
            "fingerprints": dict(self.fingerprints),
            "declared": {k: dict(v) for k, v in self.declared.items()},
        }

    @classmethod
    def from_json(cls, data: Any, *, source: str = "plan file") -> Plan:
        """A plan read back from a plan file: the envelope and every change checked, so that an edited
        file is refused with a ``PlanError`` naming the field (``changes[3].pipeline_id: …``)."""
        check = _Checker(source)
        if not isinstance(data, dict) or type(data.get("format_version")) is not int:
            raise PlanError(f"{source} is not a plan of format_version {FORMAT_VERSION}")
        if data["format_version"] != FORMAT_VERSION:
            raise PlanError(
                f"{source} is a plan of format_version {data['format_version']}; this reconcile reads "
                f"format_version {FORMAT_VERSION}: make the plan again"
            )
        target = check.object(data.get("target"), "target")
        changes = [Change(**check.change(item, f"changes[{i}]")) for i, item in enumerate(check.array(data, "changes"))]
        check.anchors(changes)
        return cls(
            target=Target(
                base_url=check.text(target, "base_url", "target"),
                tool_version=check.text(target, "tool_version", "target", optional=True) or "",
            ),
            changes=changes,
            skipped=[check.skipped(item, f"skipped[{i}]") for i, item in enumerate(check.array(data, "skipped", True))],
            warnings=check.texts(data, "warnings"),
            errors=check.texts(data, "errors"),
            fingerprints=check.fingerprints(data.get("fingerprints")),
            declared=check.declared(data.get("declared", {})),
        )


def plan_file_text(plan: Plan) -> str:
    """A plan as ``plan --out`` writes it: JSON with ``${env:…}`` references kept, never their values."""
    return json.dumps(plan.to_json(), indent=2, ensure_ascii=False) + "\n"


def write_plan_file(plan: Plan, path: Path) -> None:
    """Write ``plan`` to ``path``: through a symlink to its target (the link stays), straight into a
    FIFO or device (``/dev/stdout``), and atomically into a regular file (a uniquely named temporary
    file beside it, then a rename; removed when the write fails)."""
    try:
        write_text(path, plan_file_text(plan))
    except OSError as exc:
        raise UsageError(f"cannot write the plan to {path}: {exc.strerror or exc}") from None


def write_text(path: Path, text: str) -> None:
    """``text`` into ``path`` as ``write_plan_file`` says; ``OSError`` when it cannot be written."""
    try:
        mode: int | None = os.stat(path).st_mode  # follows symlinks
    except FileNotFoundError:
        mode = None
    if mode is not None and stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "it is a directory")
    if mode is not None and not stat.S_ISREG(mode):
        with open(path, "w", encoding="utf-8") as stream:  # a FIFO, a device: no rename over it
            stream.write(text)
        return
    # the file a symlink (or a chain of them, or a dangling one) points at is the one replaced
    target = Path(os.path.realpath(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(tmp, stat.S_IMODE(mode) if mode is not None else _default_mode())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _default_mode() -> int:
    """The mode a new file gets from ``open`` (0666 less the umask), which ``mkstemp``'s 0600 is not."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def read_plan_file(path: Path) -> Plan:
    """A plan written by ``plan --out``, read back for ``apply --plan``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read the plan file {path}: {exc.strerror}") from None
    return load_plan_file(text, str(path))


def load_plan_file(text: str, source: str) -> Plan:
    """A plan written by ``plan --out``, read back for ``apply --plan``."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PlanError(f"{source} is not JSON ({exc})") from None
    return Plan.from_json(data, source=source)


# -- checking a plan file ----------------------------------------------------------------------------

#: the fields each kind of change needs beyond workspace, project and pipeline (None: may be null)
_NEEDS: dict[str, tuple[str, ...]] = {
    "create_pipeline": ("fields",),
    "create": ("action_name",),
    "update": ("action_name", "action_id"),
    "delete": ("action_name", "action_id"),
}
_INT_FIELDS = ("pipeline_id", "action_id", "after_action_id")
_TEXT_FIELDS = ("action_name", "after_action_name", "reason")


def _shown(value: Any) -> str:
    """A value for a message: scalars as JSON (cut short), containers by their kind."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:60] + "…"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _Checker:
    """Checks the parts of a plan file, raising a ``PlanError`` that names the file and the field."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, expected: str, value: Any) -> PlanError:
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

    def text(self, data: Mapping[str, Any], key: str, where: str, *, optional: bool = False) -> str | None:
        value = data.get(key)
        if (value is None and optional) or (isinstance(value, str) and value):
            return value
        raise self.fail(f"{where}.{key}", "a non-empty string" + (" or null" if optional else ""), value)

    def integer(self, data: Mapping[str, Any], key: str, where: str, *, optional: bool = True) -> int | None:
        value = data.get(key)
        if (value is None and optional) or _is_int(value):
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
        needs = _NEEDS.get(kind, ())
        for key in _INT_FIELDS:
            out[key] = self.integer(data, key, where, optional=key not in needs)
        for key in _TEXT_FIELDS:
            out[key] = self.text(data, key, where, optional=key not in needs)
        fields_ = data.get("fields")
        if fields_ is not None or "fields" in needs:
            self.object(fields_, f"{where}.fields")
        out["fields"] = fields_
        out["diff"] = self.diff(data.get("diff"), f"{where}.diff")
        if kind == "create_pipeline" and out["pipeline_id"] is not None:
            raise self.fail(f"{where}.pipeline_id", "null (the pipeline does not exist yet)", out["pipeline_id"])
        return out

    def diff(self, value: Any, where: str) -> dict[str, Any] | None:
        if value is None:
            return None
        for key, entry in self.object(value, where).items():
            entry = self.object(entry, f"{where}.{key}")
            paths = entry.get("paths", [])
            if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
                raise self.fail(f"{where}.{key}.paths", "a list of strings", paths)
        return value

    def anchors(self, changes: Sequence[Change]) -> None:
        """Every change has a pipeline to act on, and every anchor by name is created before it."""
        created: dict[PipelineKey, set[str]] = {}
        made: set[tuple[str, str, str]] = set()
        for i, change in enumerate(changes):
            names = created.setdefault(change.key, set())
            if change.kind == "create_pipeline":
                made.add((change.workspace, change.project, change.pipeline))
            elif change.pipeline_id is None and (change.workspace, change.project, change.pipeline) not in made:
                raise self.fail(
                    f"changes[{i}].pipeline_id", "an integer (no earlier change creates this pipeline)", None
                )
            anchor = change.after_action_name
            if (
                change.kind == "create"
                and change.after_action_id is None
                and anchor is not None
                and anchor not in names
            ):
                raise PlanError(
                    f"{self.source} is malformed: changes[{i}].after_action_name: {_shown(anchor)} is not "
                    "created earlier in this pipeline by the plan (an anchor without after_action_id must be)"
                )
            if change.kind == "create" and change.action_name:
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
                if not action_id.isdigit() or not action_id.isascii():
                    raise self.fail(f"{where} key", "an action id (digits)", action_id)
                if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                    raise self.fail(f"{where}[{json.dumps(action_id)}]", "a list of field names", names)
                inner[action_id] = list(names)
            out[key] = inner
        return out

    def key(self, text: str, where: str) -> PipelineKey:
        try:
            return PipelineKey.parse(text)
        except ValueError:
            raise self.fail(
                where, "a pipeline key (workspace/project/ID or workspace/project/name:NAME)", text
            ) from None
