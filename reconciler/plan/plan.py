"""The plan as a value: ordered changes, a summary, fingerprints, the safety check, JSON out.

``plan`` builds it, ``render`` prints it, ``apply`` consumes it. A plan file keeps ``${env:…}``
references, never their values; ``apply --plan`` resolves them again. Reading a plan file back
(every field checked) is ``planfile.plan_from_json``: this module does not know the file's checks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from reconciler import __version__
from reconciler.errors import PlanError, UnsafePlanError
from reconciler.plan.changes import SUMMARY_ORDER, Change, DeletePipeline
from reconciler.plan.targets import Targeting, address

FORMAT_VERSION = 1
#: The key of a pipeline's ``declared`` entry that lists its declared pipeline fields (the others are
#: live action ids).
DECLARED_PIPELINE = "pipeline"
#: The default share (percent) of a pipeline's live actions that may be deleted, or updated, at once.
DEFAULT_MAX_PERCENT = 30
#: Updates are gated only in a pipeline with at least this many live actions (small ones are not).
UPDATE_GATE_MIN_ACTIONS = 10
SAFETY_KEYS = ("max_delete_percent", "max_update_percent")
#: how the safety check's warnings begin: refused without --force, or skipped by it
SAFETY_REFUSES = "apply would refuse this without --force: "
SAFETY_SKIPPED = "the safety check was skipped (--force); it would refuse: "


class SafetyWarning(str):
    """A warning of the safety check: a ``str`` (warnings are text in every output) that says it is
    one by its type, so the renderers put it first without reading its words."""

    __slots__ = ()

    @classmethod
    def of(cls, count: SafetyCount | ProjectSafetyCount, *, forced: bool) -> SafetyWarning:
        return cls((SAFETY_SKIPPED if forced else SAFETY_REFUSES) + count.describe())

    @classmethod
    def read(cls, text: str) -> str:
        """A warning read back from a plan file: a ``SafetyWarning`` again when it is one."""
        return cls(text) if text.startswith((SAFETY_REFUSES, SAFETY_SKIPPED)) else text


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
class Orphan:
    """A live pipeline of a declared project that no file declares: told in the plan, not a change
    (deleted only with the file's ``prune_pipelines: true``, then as a ``DeletePipeline``). ``kept``
    says why it would never be deleted (defined in Buddy YAML), else ``None``."""

    workspace: str
    project: str
    pipeline_id: int
    name: str
    kept: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "workspace": self.workspace,
            "project": self.project,
            "pipeline_id": self.pipeline_id,
            "name": self.name,
            "kept": self.kept,
        }


@dataclass(frozen=True)
class ProjectSafetyCount:
    """What the safety check counted of one project's pipelines: its live pipelines and the deletes."""

    project: str
    live: int
    deletes: int
    limits: Limits

    @property
    def refused(self) -> bool:
        return deletes_refused(self.live, self.deletes, self.limits.max_delete_percent)

    def describe(self) -> str:
        limit = self.limits.max_delete_percent
        verdict = f"over the limit of {limit}%" if self.refused else f"(limit {limit}%)"
        noun = "delete" if self.deletes == 1 else "deletes"
        return f"project {self.project}: {self.live} live pipelines; {self.deletes} pipeline {noun}, {verdict}"


@dataclass(frozen=True)
class Target:
    base_url: str
    tool_version: str = __version__


@dataclass(frozen=True)
class Limits:
    """The safety check's thresholds, in percent of a pipeline's live actions (of any type)."""

    max_delete_percent: int = DEFAULT_MAX_PERCENT
    max_update_percent: int = DEFAULT_MAX_PERCENT

    def over(self, override: Mapping[str, int] | None) -> Limits:
        """These limits with a pipeline's own ``safety:`` (from its file) put over them."""
        if not override:
            return self
        known = {k: int(v) for k, v in override.items() if k in SAFETY_KEYS and v is not None}
        return Limits(**{**asdict(self), **known})


def deletes_refused(live: int, deletes: int, max_percent: int) -> bool:
    """Deletes are refused when they remove more than ``max_percent`` of the live actions and more
    than one action."""
    return deletes > 1 and deletes * 100 > max_percent * live


def updates_refused(live: int, updates: int, max_percent: int) -> bool:
    """Updates are refused only in a pipeline of ``UPDATE_GATE_MIN_ACTIONS`` or more live actions,
    when more than ``max_percent`` of them would change."""
    return live >= UPDATE_GATE_MIN_ACTIONS and updates * 100 > max_percent * live


@dataclass(frozen=True)
class SafetyCount:
    """What the safety check counted in one pipeline, and its verdict."""

    pipeline: str
    live: int
    deletes: int
    updates: int
    limits: Limits

    @property
    def deletes_refused(self) -> bool:
        return deletes_refused(self.live, self.deletes, self.limits.max_delete_percent)

    @property
    def updates_refused(self) -> bool:
        return updates_refused(self.live, self.updates, self.limits.max_update_percent)

    @property
    def refused(self) -> bool:
        return self.deletes_refused or self.updates_refused

    def describe(self) -> str:
        """``acme/web pipeline "P": 8 live actions (of any type); 3 deletes, over the limit of 30% …``"""
        d, u = self.limits.max_delete_percent, self.limits.max_update_percent
        deletes = f"{self.deletes} delete{'s' if self.deletes != 1 else ''}"
        updates = f"{self.updates} update{'s' if self.updates != 1 else ''}"
        if self.deletes_refused:
            deletes += f", over the limit of {d}%"
        else:
            deletes += f" (limit {d}%)"
        if self.updates_refused:
            updates += f", over the limit of {u}%"
        elif self.live < UPDATE_GATE_MIN_ACTIONS:
            updates += f" (not limited under {UPDATE_GATE_MIN_ACTIONS} live actions)"
        else:
            updates += f" (limit {u}%)"
        return f"{self.pipeline}: {self.live} live actions (of any type); {deletes}; {updates}"


@dataclass
class PipelinePlan:
    """One pipeline's part of a plan: its key (``str(PipelineKey)``), the fingerprint of the live state
    it was made against, the live action count (for the safety check; re-read on apply), what it
    declares (live action id → field names, and its own pipeline fields) and its changes in order."""

    key: str
    #: None only in a plan made without reading (a test's, or a file without one)
    fingerprint: str | None = None
    live_count: int = 0
    declared_actions: dict[int, list[str]] = field(default_factory=dict)
    declared_fields: list[str] = field(default_factory=list)
    #: the file's ``safety:`` limits (``max_delete_percent``, ``max_update_percent``)
    safety: dict[str, int] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    #: what the diff noticed (taken into the plan's warnings)
    warnings: list[str] = field(default_factory=list)

    def safety_count(self, live: int, limits: Limits) -> SafetyCount:
        """What the safety check counts here and its verdict (the file's ``safety:`` over ``limits``)."""
        first = self.changes[0]
        return SafetyCount(
            pipeline=f'{first.workspace}/{first.project} pipeline "{first.pipeline}"',
            live=live,
            deletes=sum(c.safety_deletes for c in self.changes),
            updates=sum(c.safety_updates for c in self.changes),
            limits=limits.over(self.safety),
        )

    def declared_json(self) -> dict[str, list[str]]:
        """The plan file's ``declared`` entry: action ids, and ``DECLARED_PIPELINE`` for the pipeline's fields."""
        out = {str(i): list(names) for i, names in self.declared_actions.items()}
        if self.declared_fields:
            out[DECLARED_PIPELINE] = list(self.declared_fields)
        return out


@dataclass
class Plan:
    """Everything ``apply`` needs and a reviewer reads: one ``PipelinePlan`` per pipeline, whose
    changes, in turn, are in the order they will be made."""

    target: Target
    pipelines: list[PipelinePlan] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: the --target/--exclude patterns a partial plan was made with (None: every declared pipeline)
    targeting: Targeting | None = None
    #: live pipelines of the declared projects that no file declares (information, not changes)
    orphans: list[Orphan] = field(default_factory=list)
    #: the live pipeline count of each project where pipelines are deleted ("workspace/project"), for
    #: the safety check of pipeline deletes
    project_pipelines: dict[str, int] = field(default_factory=dict)
    #: YAML files a directory scan skipped as not config files (told on stderr; not serialised)
    skipped_files: list[str] = field(default_factory=list)

    @classmethod
    def of(
        cls,
        target: Target,
        changes: Sequence[Change] = (),
        *,
        fingerprints: Mapping[str, str] | None = None,
        declared: Mapping[str, Mapping[str, list[str]]] | None = None,
        live_counts: Mapping[str, int] | None = None,
        safety: Mapping[str, Mapping[str, int]] | None = None,
        **rest: Any,
    ) -> Plan:
        """A plan from its flat parts (a plan file's shape): the changes grouped by pipeline key."""
        units: dict[str, PipelinePlan] = {}

        def unit(key: str) -> PipelinePlan:
            return units.setdefault(key, PipelinePlan(key))

        for change in changes:
            unit(change.pipeline_key).changes.append(change)
        for key, print_ in (fingerprints or {}).items():
            unit(key).fingerprint = print_
        for key, entry in (declared or {}).items():
            unit(key).declared_actions = {int(i): list(v) for i, v in entry.items() if i != DECLARED_PIPELINE}
            unit(key).declared_fields = list(entry.get(DECLARED_PIPELINE, []))
        for key, count in (live_counts or {}).items():
            unit(key).live_count = count
        for key, limits in (safety or {}).items():
            unit(key).safety = dict(limits)
        return cls(target, list(units.values()), **rest)

    @property
    def changes(self) -> list[Change]:
        """Every change, in the order apply makes them."""
        return [c for p in self.pipelines for c in p.changes]

    @property
    def fingerprints(self) -> dict[str, str]:
        return {p.key: p.fingerprint for p in self.pipelines if p.fingerprint is not None}

    @property
    def declared(self) -> dict[str, dict[str, list[str]]]:
        return {p.key: entry for p in self.pipelines if (entry := p.declared_json())}

    @property
    def safety(self) -> dict[str, dict[str, int]]:
        return {p.key: dict(p.safety) for p in self.pipelines if p.safety}

    @property
    def live_counts(self) -> dict[str, int]:
        return {p.key: p.live_count for p in self.pipelines}

    @property
    def summary(self) -> dict[str, int]:
        counts = Counter(type(c) for c in self.changes)
        return {cls.kind: counts[cls] for cls in SUMMARY_ORDER}

    def unit(self, key: str) -> PipelinePlan | None:
        """The part of the plan for pipeline ``key``."""
        return next((p for p in self.pipelines if p.key == key), None)

    def declared_actions(self, key: str) -> dict[int, list[str]]:
        """Declared live action id → its declared field names, for pipeline ``key``."""
        unit = self.unit(key)
        return dict(unit.declared_actions) if unit else {}

    def declared_pipeline(self, key: str) -> list[str]:
        """The declared pipeline fields of pipeline ``key`` (covered by its fingerprint)."""
        unit = self.unit(key)
        return list(unit.declared_fields) if unit else []

    @property
    def has_changes(self) -> bool:
        return any(p.changes for p in self.pipelines)

    def with_changes(self) -> list[PipelinePlan]:
        """The pipelines that have changes, in plan order."""
        return [p for p in self.pipelines if p.changes]

    # -- assembling ---------------------------------------------------------------------------------

    def add_pipeline(self, unit: PipelinePlan) -> None:
        """Take in one pipeline's part (from the diff); its warnings join the plan's."""
        self.pipelines.append(unit)
        self.warnings.extend(unit.warnings)

    def add_error(self, workspace: str, project: str, pipeline: str, reason: str) -> None:
        """One pipeline could not be planned; the others go on."""
        self.errors.append(f'{workspace}/{project} pipeline "{pipeline}": {reason}')

    def add_skipped(self, skipped: Skipped) -> None:
        self.skipped.append(skipped)

    def add_safety_warnings(self, limits: Limits | None = None, *, force: bool = False) -> None:
        """The safety check of apply, shown as a warning in the plan (and kept in a saved plan);
        with ``force`` (apply --force) the warning says the check was skipped."""
        for count in self.unsafe(limits=limits):
            self.warnings.append(SafetyWarning.of(count, forced=force))

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

    def safety_counts(
        self, live_counts: Mapping[str, int] | None = None, limits: Limits | None = None
    ) -> list[SafetyCount]:
        """What the safety check counts, per pipeline with changes: live actions, deletes, updates
        (secret re-sends left out) and the limits (the file's ``safety:`` over ``limits``)."""
        counts = live_counts if live_counts is not None else self.live_counts
        base = limits or Limits()
        return [p.safety_count(counts.get(p.key, 0), base) for p in self.with_changes()]

    def project_safety(
        self, limits: Limits | None = None, live_counts: Mapping[str, int] | None = None
    ) -> list[ProjectSafetyCount]:
        """What the safety check counts of pipeline deletes, per project that has some: its pipelines
        as ``live_counts`` has them now (a saved plan re-read), else as the plan counted them."""
        deletes = Counter(f"{c.workspace}/{c.project}" for c in self.changes if isinstance(c, DeletePipeline))
        base = limits or Limits()
        now = live_counts or {}
        return [
            ProjectSafetyCount(p, now.get(p, self.project_pipelines.get(p, n)), n, base)
            for p, n in sorted(deletes.items())
        ]

    def unsafe(
        self, live_counts: Mapping[str, int] | None = None, limits: Limits | None = None
    ) -> list[SafetyCount | ProjectSafetyCount]:
        """The pipelines (and projects) the safety check refuses (see ``SafetyCount.refused``)."""
        counts: list[SafetyCount | ProjectSafetyCount] = [*self.safety_counts(live_counts, limits)]
        counts += self.project_safety(limits, live_counts)
        return [c for c in counts if c.refused]

    def raise_if_unsafe(
        self, *, force: bool, live_counts: Mapping[str, int] | None = None, limits: Limits | None = None
    ) -> list[SafetyCount | ProjectSafetyCount]:
        """Refuse a plan over the safety threshold, unless ``force``; returns what ``force`` let through."""
        refused = self.unsafe(live_counts, limits)
        if refused and not force:
            raise UnsafePlanError(refused)
        return refused

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
            "safety": {k: dict(v) for k, v in self.safety.items()},
            "not_managed": [o.to_json() for o in self.orphans],
            "project_pipelines": dict(self.project_pipelines),
        }
