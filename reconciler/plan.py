"""The plan as a value: ordered changes, a summary, fingerprints, the safety check, JSON in and out.

``plan`` builds it, ``render`` prints it, ``apply`` consumes it. A plan file keeps ``${env:…}``
references, never their values; ``apply --plan`` resolves them again.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from reconciler import __version__, fields
from reconciler.errors import PlanError, UnsafePlanError, UsageError
from reconciler.model import LivePipeline, PipelineKey
from reconciler.targets import Targeting, address

if TYPE_CHECKING:
    from pathlib import Path

    from reconciler.diff import PipelineDiff

FORMAT_VERSION = 1
ChangeKind = Literal["create_pipeline", "update_pipeline", "create", "update", "delete"]
KINDS: tuple[ChangeKind, ...] = ("create_pipeline", "update_pipeline", "create", "update", "delete")
#: The key of a pipeline's ``declared`` entry that lists its declared pipeline fields (the others are
#: live action ids).
DECLARED_PIPELINE = "pipeline"
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
    def from_json(cls, data: Mapping[str, Any]) -> Change:
        known = {k: data.get(k) for k in cls.__dataclass_fields__ if k != "unset_sensitive"}
        if known["kind"] not in KINDS:
            raise PlanError(f"the plan file has a change of unknown kind {known['kind']!r}")
        return cls(**known)


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


def fingerprint(
    actions: Iterable[tuple[int, str, str]],
    declared: Mapping[int, Mapping[str, Any]],
    pipeline: Mapping[str, Any] | None = None,
) -> str:
    """sha256 over what a plan depends on: the ordered (id, name, type) of every live action, per
    declared live action the live values of its declared fields (write-only ones excluded), and the
    live values of the declared pipeline fields (``pipeline``)."""
    payload: dict[str, Any] = {
        "actions": [list(a) for a in actions],
        "declared": {str(k): dict(sorted(v.items())) for k, v in sorted(declared.items())},
    }
    if pipeline:
        payload["pipeline"] = dict(sorted(pipeline.items()))
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def live_fingerprint(
    live: LivePipeline,
    details: Mapping[int, Mapping[str, Any]],
    declared: Mapping[int, Sequence[str]],
    pipeline_fields: Sequence[str] = (),
) -> str:
    """SPEC.md's fingerprint of a live pipeline, given which fields of which actions, and which of the
    pipeline's own fields, are declared."""
    values = {
        action_id: {k: details.get(action_id, {}).get(k) for k in names if not fields.is_write_only(k)}
        for action_id, names in declared.items()
    }
    own = {name: live.value(name) for name in pipeline_fields}
    return fingerprint([(a.id, a.name, a.type) for a in live.actions], values, own)


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
    #: per pipeline key: declared live action id → its declared field names, and ``DECLARED_PIPELINE`` →
    #: the declared pipeline fields (to re-fingerprint on apply)
    declared: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    #: live action count per pipeline key, for the safety check (not serialised: re-read on apply)
    live_counts: dict[str, int] = field(default_factory=dict)
    #: the --target/--exclude patterns a partial plan was made with (None: every declared pipeline)
    targeting: Targeting | None = None

    @property
    def summary(self) -> dict[str, int]:
        counts = Counter(c.kind for c in self.changes)
        return {
            "create": counts["create"],
            "update": counts["update"],
            "delete": counts["delete"],
            "create_pipeline": counts["create_pipeline"],
            "update_pipeline": counts["update_pipeline"],
        }

    def declared_actions(self, key: str) -> dict[int, list[str]]:
        """Declared live action id → its declared field names, for pipeline ``key``."""
        entry = self.declared.get(key, {})
        return {int(i): list(names) for i, names in entry.items() if i != DECLARED_PIPELINE}

    def declared_pipeline(self, key: str) -> list[str]:
        """The declared pipeline fields of pipeline ``key`` (covered by its fingerprint)."""
        return list(self.declared.get(key, {}).get(DECLARED_PIPELINE, []))

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

    def check_targeting(self) -> None:
        """Refuse a (saved) plan holding a change outside its own recorded targets: a cheap
        consistency check before ``apply --plan`` writes anything."""
        if self.targeting is None or not self.targeting.active:
            return
        for change in self.changes:
            names = [address(change.workspace, change.project, change.pipeline)]
            if change.pipeline_id is not None:
                names.append(address(change.workspace, change.project, f"#{change.pipeline_id}"))
            if not self.targeting.covers(names):
                raise PlanError(
                    f"the plan holds a change to {names[0]}, outside its own --target/--exclude patterns; "
                    "it was edited or made by another tool: make the plan again"
                )

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
            **({"targeting": self.targeting.to_json()} if self.targeting is not None else {}),
        }

    @classmethod
    def from_json(cls, data: Any, *, source: str = "plan file") -> Plan:
        if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
            raise PlanError(f"{source} is not a plan of format_version {FORMAT_VERSION}")
        try:
            target = data["target"]
            return cls(
                target=Target(base_url=target["base_url"], tool_version=target.get("tool_version", "")),
                changes=[Change.from_json(c) for c in data["changes"]],
                skipped=[
                    Skipped(
                        s.get("workspace", ""),
                        s.get("project", ""),
                        s["pipeline"],
                        s.get("pipeline_id"),
                        s["reason"],
                    )
                    for s in data.get("skipped", [])
                ],
                warnings=list(data.get("warnings", [])),
                errors=list(data.get("errors", [])),
                fingerprints={str(PipelineKey.parse(k)): v for k, v in data["fingerprints"].items()},
                declared={k: {str(i): list(f) for i, f in v.items()} for k, v in data.get("declared", {}).items()},
                targeting=Targeting.from_json(data["targeting"]) if data.get("targeting") is not None else None,
            )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise PlanError(f"{source} is malformed (missing or wrong {exc})") from None


def plan_file_text(plan: Plan) -> str:
    """A plan as ``plan --out`` writes it: JSON with ``${env:…}`` references kept, never their values."""
    return json.dumps(plan.to_json(), indent=2, ensure_ascii=False) + "\n"


def write_plan_file(plan: Plan, path: Path) -> None:
    """Write ``plan`` to ``path`` atomically (a temporary file beside it, then a rename)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(plan_file_text(plan), encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise UsageError(f"cannot write the plan to {path}: {exc.strerror}") from None


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
