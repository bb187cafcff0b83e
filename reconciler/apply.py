"""Execute a plan through the client: ordered, bounded, and honest about what happened.

Pipelines run in parallel (bounded); within a pipeline every change runs in plan order: the new
pipeline, then creates (each placed after the action created or matched just before it), updates,
deletes. A POST whose outcome is unknown is never blindly repeated: the list is read again first.
The report says what was applied, what failed (with the API's message) and what was not tried.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from reconciler import envrefs, fields
from reconciler.client import BuddyClient
from reconciler.diff import field_differs, live_fingerprint
from reconciler.errors import (
    ApiError,
    EnvError,
    NotFoundError,
    StalePlanError,
    TargetMismatchError,
)
from reconciler.fields import SENSITIVE
from reconciler.live import summary_of
from reconciler.model import MULTI_ARCH, LivePipeline
from reconciler.plan import ABSENT, Change, Plan

Status = Literal["applied", "failed", "not tried"]
#: how often an uncertain create is tried again, after the re-read found nothing
UNCERTAIN_TRIES = 3


@dataclass
class Outcome:
    change: Change
    status: Status
    message: str | None = None
    action_id: int | None = None


@dataclass
class ApplyReport:
    outcomes: list[Outcome] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def of(self, status: Status) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def ok(self) -> bool:
        return not self.of("failed") and not self.of("not tried")


class Progress(Protocol):
    """Where apply reports as it goes (the CLI draws a bar on a terminal, lines in CI)."""

    def start(self, total: int) -> None: ...

    def done(self, outcome: Outcome) -> None: ...

    def finish(self) -> None: ...


def resolve_fields(plan: Plan, env: Mapping[str, str], *, sandbox: bool) -> dict[int, dict[str, Any]]:
    """Every change's body with ``${env:…}`` resolved, before anything is sent: an unset variable
    stops the apply before the first write."""
    bodies: dict[int, dict[str, Any]] = {}
    missing: list[str] = []
    for index, change in enumerate(plan.changes):
        if change.fields is None:
            continue
        body: dict[str, Any] = {}
        for name, value in change.fields.items():
            try:
                body[name] = envrefs.resolve(value, env, sandbox=sandbox)
            except EnvError as exc:
                missing.append(f"{change.pipeline} / {change.action_name or '(pipeline)'} field {name}: {exc}")
        bodies[index] = body
    if missing:
        raise EnvError("cannot apply, variables are not set (nothing was changed): " + "; ".join(missing))
    return bodies


def check_target(plan: Plan, client: BuddyClient, workspace: str | None) -> None:
    """Refuse a plan made for another base URL or workspace."""
    if plan.target.base_url.rstrip("/") != client.target:
        raise TargetMismatchError(
            f"the plan was made for {plan.target.base_url}, not {client.target}; nothing was changed. "
            "Make a new plan against this target"
        )
    if workspace:
        others = sorted({c.workspace for c in plan.changes if c.workspace != workspace})
        if others:
            raise TargetMismatchError(
                f"the plan changes workspace(s) {', '.join(others)}, but BUDDY_WORKSPACE is {workspace}; "
                "nothing was changed"
            )


def refresh(client: BuddyClient, plan: Plan) -> dict[str, int]:
    """Re-read every pipeline the plan touches; refuse (``StalePlanError``) when any fingerprint
    changed. Returns the live action count per pipeline, for the safety check."""
    counts: dict[str, int] = {}
    stale: list[str] = []
    keys = sorted({c.pipeline_key for c in plan.changes} | set(plan.fingerprints))
    names = {c.pipeline_key: c.pipeline for c in plan.changes}
    listed: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def check(key: str) -> tuple[str, str | None, int]:
        workspace, project, rest = key.split("/", 2)
        expected = plan.fingerprints.get(key)
        if rest.startswith("name:"):
            name = rest[len("name:") :]
            pipelines = listed[(workspace, project)]
            now = ABSENT if not any(p.get("name") == name for p in pipelines) else "present"
            return (
                key,
                (None if now == expected else f'pipeline "{name}" now exists in {workspace}/{project}'),
                0,
            )
        pipeline_id = int(rest)
        try:
            actions = tuple(summary_of(a) for a in client.list_actions(workspace, project, pipeline_id))
        except NotFoundError:
            return key, f"pipeline #{pipeline_id} ({names.get(key, '?')}) no longer exists", 0
        declared = {int(i): f for i, f in plan.declared.get(key, {}).items()}
        details = {}
        for action_id in declared:
            if any(a.id == action_id for a in actions):
                details[action_id] = client.get_action(workspace, project, pipeline_id, action_id)
        live = LivePipeline(pipeline_id, names.get(key, ""), {}, actions)
        now = live_fingerprint(live, details, declared)
        reason = None if now == expected else f'pipeline "{names.get(key, pipeline_id)}" (#{pipeline_id})'
        return key, reason, len(actions)

    projects = sorted({tuple(k.split("/", 2)[:2]) for k in keys if k.split("/", 2)[2].startswith("name:")})
    for project, pipelines in zip(projects, client.map(lambda p: client.list_pipelines(*p), projects), strict=True):
        listed[project] = pipelines  # type: ignore[index]
    for key, reason, count in client.map(check, keys):
        counts[key] = count
        if reason:
            stale.append(reason)
    if stale:
        raise StalePlanError(
            "the plan is stale, Buddy changed since it was made: "
            + "; ".join(stale)
            + ". Nothing was changed. Run plan again"
        )
    return counts


class _PipelineRun:
    """The changes of one pipeline, strictly in order."""

    def __init__(
        self, client: BuddyClient, report: ApplyReport, lock: threading.Lock, progress: Progress | None
    ) -> None:
        self.client = client
        self.report = report
        self.lock = lock
        self.progress = progress
        self.pipeline_id: int | None = None
        self.created: dict[str, int] = {}

    def record(self, outcome: Outcome) -> None:
        with self.lock:
            self.report.outcomes.append(outcome)
        if self.progress is not None:
            self.progress.done(outcome)

    def warn(self, message: str) -> None:
        with self.lock:
            self.report.warnings.append(message)

    def run(self, changes: list[tuple[Change, dict[str, Any] | None]]) -> None:
        creates_blocked: str | None = None
        pipeline_missing: str | None = None
        for change, body in changes:
            if pipeline_missing is not None:
                self.record(Outcome(change, "not tried", pipeline_missing))
                continue
            if change.kind == "create" and creates_blocked is not None:
                self.record(Outcome(change, "not tried", creates_blocked))
                continue
            try:
                outcome = self.execute(change, body or {})
            except ApiError as exc:
                outcome = Outcome(change, "failed", exc.message)
                if change.kind == "create_pipeline":
                    pipeline_missing = f'pipeline "{change.pipeline}" was not created'
                elif change.kind == "create":
                    creates_blocked = f'the create of "{change.action_name}" before it failed'
            self.record(outcome)

    def execute(self, change: Change, body: dict[str, Any]) -> Outcome:
        c = self.client
        ws, project = change.workspace, change.project
        pipeline_id = change.pipeline_id if change.pipeline_id is not None else self.pipeline_id
        if change.kind == "create_pipeline":
            created = self._create_pipeline(change, body)
            self.pipeline_id = int(created["id"])
            return Outcome(change, "applied", action_id=self.pipeline_id)
        assert pipeline_id is not None
        if change.kind == "create":
            send = dict(body)
            if change.after_action_id is not None:
                send["after_action_id"] = change.after_action_id
            elif change.after_action_name is not None:
                send["after_action_id"] = self.created[change.after_action_name]
            answer = self._create_action(change, pipeline_id, send)
            self.created[change.action_name or ""] = int(answer["id"])
            self.verify(change, body, answer)
            return Outcome(change, "applied", action_id=int(answer["id"]))
        if change.kind == "update":
            assert change.action_id is not None
            answer = c.update_action(ws, project, pipeline_id, change.action_id, body)
            self.verify(change, body, answer)
            return Outcome(change, "applied", action_id=change.action_id)
        assert change.action_id is not None
        try:
            c.delete_action(ws, project, pipeline_id, change.action_id)
        except NotFoundError:
            return Outcome(change, "applied", "already gone", action_id=change.action_id)
        return Outcome(change, "applied", action_id=change.action_id)

    def _create_pipeline(self, change: Change, body: dict[str, Any]) -> dict[str, Any]:
        ws, project = change.workspace, change.project

        def find() -> dict[str, Any] | None:
            return next((p for p in self.client.list_pipelines(ws, project) if p.get("name") == change.pipeline), None)

        return self._create_once(lambda: self.client.create_pipeline(ws, project, body), find)

    def _create_action(self, change: Change, pipeline_id: int, body: dict[str, Any]) -> dict[str, Any]:
        c, ws, project = self.client, change.workspace, change.project

        def find() -> dict[str, Any] | None:
            for action in c.list_actions(ws, project, pipeline_id):
                if action.get("name") == change.action_name and action.get("type") == MULTI_ARCH:
                    return c.get_action(ws, project, pipeline_id, int(action["id"]))
            return None

        return self._create_once(lambda: c.create_action(ws, project, pipeline_id, body), find)

    @staticmethod
    def _create_once(post: Callable[[], dict[str, Any]], find: Callable[[], dict[str, Any] | None]) -> dict[str, Any]:
        """POST, and after an unknown outcome look (``find``) before trying again: never a duplicate."""
        for attempt in range(1, UNCERTAIN_TRIES + 1):
            try:
                return post()
            except ApiError as exc:
                if not exc.uncertain or attempt == UNCERTAIN_TRIES:
                    raise
            found = find()
            if found is not None:
                return found
        raise AssertionError("unreachable: the last attempt returns or raises")

    def verify(self, change: Change, body: Mapping[str, Any], answer: Mapping[str, Any]) -> None:
        """The server's answer is what it stored: a declared field that still differs is a
        normalisation the diff does not know yet, worth a warning."""
        for name, value in body.items():
            if name in ("name", "type") or fields.has_write_only(name, value):
                continue
            if field_differs(name, value, answer.get(name)):
                raw = (change.fields or {}).get(name)
                shown = SENSITIVE if fields.is_sensitive(name, raw) else repr(answer.get(name))
                self.warn(
                    f'pipeline "{change.pipeline}", action "{change.action_name}": field {name} still differs '
                    f"after apply (Buddy has {shown}); the diff may need to learn this normalisation"
                )


def apply_plan(
    client: BuddyClient,
    plan: Plan,
    *,
    env: Mapping[str, str],
    sandbox: bool = False,
    force: bool = False,
    live_counts: Mapping[str, int] | None = None,
    progress: Progress | None = None,
) -> ApplyReport:
    """Make the plan's changes. Refuses (before any write) when unsafe or when a variable is unset."""
    bodies = resolve_fields(plan, env, sandbox=sandbox)
    plan.raise_if_unsafe(force=force, live_counts=live_counts)
    report = ApplyReport()
    lock = threading.Lock()
    groups: dict[str, list[tuple[Change, dict[str, Any] | None]]] = {}
    for index, change in enumerate(plan.changes):
        groups.setdefault(change.pipeline_key, []).append((change, bodies.get(index)))
    if not groups:
        return report
    if progress is not None:
        progress.start(len(plan.changes))
    try:
        with ThreadPoolExecutor(max_workers=client.parallelism, thread_name_prefix="apply") as pool:
            futures = [
                pool.submit(_PipelineRun(client, report, lock, progress).run, changes) for changes in groups.values()
            ]
            for future in futures:
                future.result()
    finally:
        if progress is not None:
            progress.finish()
    order = {id(c): i for i, c in enumerate(plan.changes)}
    report.outcomes.sort(key=lambda o: order[id(o.change)])
    return report
