"""Execute a plan through the client: ordered, bounded, and honest about what happened.

Pipelines run in parallel (bounded); within a pipeline every change runs in plan order: the new
pipeline or the PATCH of its own fields, then creates (each placed after the action created or
matched just before it), updates, deletes.

* A POST whose outcome is unknown (a timeout, a dropped connection, a 5xx, an unreadable answer) is
  never sent again in the same run: the pipeline is read again a few times, with backoff; if the
  object is there, apply goes on with its id, else that pipeline stops and the create is reported
  ``uncertain`` (it may still land; the next run sees whether it did).
* A PATCH or DELETE that got no answer on its last attempt (a timeout, a dropped connection) is
  ``uncertain`` too, not failed: the server may have committed it late; the next plan shows it.
* A ``stop`` event (the CLI sets it on the first Ctrl-C or SIGTERM) stops starting new changes; the
  ones in flight finish, the rest are ``not tried``, and ``report.interrupted`` says why; the check
  after the changes starts no further read, and the report says it was not done.
* After the changes, every pipeline they touched is read again: two live multi-arch actions with one
  declared name, or two pipelines with the name of one this apply created, are errors naming them
  (two applies ran at once; ``--dedupe`` repairs the actions).

The report says, per change, what was applied, what failed (with the API's message), what is
uncertain and what was not tried.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from reconciler import crash, envrefs, fields, uncertain
from reconciler.buddy import live
from reconciler.buddy.client import BuddyClient
from reconciler.errors import (
    ApiError,
    EnvError,
    NotFoundError,
    RateLimitedError,
    ReadsStopped,
    TransportError,
    UncertainCreate,
)
from reconciler.fields import SENSITIVE
from reconciler.model import MULTI_ARCH
from reconciler.plan import normal
from reconciler.plan.changes import (
    CreateAction,
    CreatePipeline,
    DeleteAction,
    DeletePipeline,
    UpdateAction,
    UpdatePipeline,
)
from reconciler.plan.options import LOOK_DELAYS, ApplyOptions, Looks, Options, Progress
from reconciler.plan.plan import Change, Plan, SafetyWarning

__all__ = ["LOOK_DELAYS", "ApplyOptions", "ApplyReport", "Looks", "Outcome", "Progress", "apply_plan"]

Status = Literal["applied", "failed", "uncertain", "not tried"]
INTERRUPTED = "not started: the apply was interrupted"


@dataclass
class Outcome:
    """What became of one change. ``object_id`` is the id of what it made or touched: the new
    pipeline's for ``create_pipeline``, else the action's."""

    change: Change
    status: Status
    message: str | None = None
    object_id: int | None = None


@dataclass
class ApplyReport:
    """Every change's outcome (in plan order), warnings, and ``errors`` found by the check after the
    changes (duplicates). ``interrupted``: a stop was asked for (Ctrl-C, SIGTERM) during the apply."""

    outcomes: list[Outcome] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    interrupted: bool = False
    #: the first bug met during a change (see ``crash``): the apply stopped; the CLI exits 3
    crashed: BaseException | None = None

    def of(self, status: Status) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def ok(self) -> bool:
        return not self.errors and not self.interrupted and all(o.status == "applied" for o in self.outcomes)


def resolve_fields(plan: Plan, env: envrefs.Environment) -> dict[int, dict[str, Any]]:
    """Every change's body with ``${env:…}`` resolved, before anything is sent: an unset variable
    stops the apply before the first write."""
    bodies: dict[int, dict[str, Any]] = {}
    missing: list[str] = []
    names: list[str] = []
    for index, change in enumerate(plan.changes):
        if change.fields is None:
            continue
        body: dict[str, Any] = {}
        for name, value in change.fields.items():
            try:
                body[name] = env.resolve(value)
            except EnvError as exc:
                missing.append(f"{change.pipeline} / {change.action_name or '(pipeline)'} field {name}: {exc}")
                names += env.unset(value)
        bodies[index] = body
    if names:
        raise EnvError(envrefs.unset_report(names, missing, doing="cannot apply (nothing was changed)"))
    if missing:
        raise EnvError("cannot apply (nothing was changed): " + "; ".join(missing))
    return bodies


#: what apply says of a PATCH or DELETE that no attempt saw answered (a late commit lands it anyway)
UNANSWERED_WRITE = "the server did not answer in time; it may have landed: run plan to see"


def _unanswered(change: Change, exc: ApiError) -> bool:
    """True for a PATCH or DELETE whose last attempt got no answer after one may have been sent."""
    return change.writes_in_place and isinstance(exc, TransportError) and exc.uncertain


def _write_status(change: Change, exc: ApiError) -> Status:
    return "uncertain" if _unanswered(change, exc) else "failed"


def _write_message(change: Change, exc: ApiError) -> str:
    return f"{UNANSWERED_WRITE} ({exc.message})" if _unanswered(change, exc) else exc.message


class _PipelineRun:
    """The changes of one pipeline, strictly in order."""

    def __init__(
        self,
        client: BuddyClient,
        report: ApplyReport,
        lock: threading.Lock,
        progress: Progress | None,
        stop: threading.Event,
        looks: Looks,
    ) -> None:
        self.client = client
        self.report = report
        self.lock = lock
        self.progress = progress
        self.stop = stop
        self.looks = looks
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
        stopped: str | None = None  # every later change of this pipeline is not tried, and why
        for change, body in changes:
            if stopped is None and self.stop.is_set():
                stopped = INTERRUPTED
            stopped = stopped or crash.stopped(self.report)
            why_not = stopped or (creates_blocked if isinstance(change, CreateAction) else None)
            if why_not is not None:
                self.record(Outcome(change, "not tried", why_not))
                continue
            if self.progress is not None:
                self.progress.begin(change)
            outcome, stops, blocks = self._attempt(change, body or {})
            stopped, creates_blocked = stops or stopped, blocks or creates_blocked
            self.record(outcome)

    def _attempt(self, change: Change, body: dict[str, Any]) -> tuple[Outcome, str | None, str | None]:
        """One change tried: its outcome, why the pipeline's later changes are then not tried (or
        None), and why its later action creates are not (or None)."""
        try:
            return self.execute(change, body), None, None
        except UncertainCreate as exc:
            what = f'pipeline "{change.pipeline}"' if change.on_pipeline else f'"{change.action_name}"'
            stops = f"the create of {what} before it has an unknown outcome"
            return Outcome(change, "uncertain", str(exc)), stops, None
        except ApiError as exc:
            if isinstance(exc, RateLimitedError) and self.stop.is_set() and not exc.uncertain:
                return Outcome(change, "not tried", exc.message), INTERRUPTED, None  # a 429: nothing was done
            outcome = Outcome(change, _write_status(change, exc), _write_message(change, exc))
            if isinstance(change, CreatePipeline):
                return outcome, f'pipeline "{change.pipeline}" was not created', None
            if isinstance(change, CreateAction):
                return outcome, None, f'the create of "{change.action_name}" before it failed'
            return outcome, None, None
        except Exception as exc:  # a bug: told as an unknown outcome, the apply stopped (crash.py)
            if not crash.is_bug(exc):
                raise
            return Outcome(change, "uncertain", crash.caught(exc, self.report)), crash.STOPPED, None

    def execute(self, change: Change, body: dict[str, Any]) -> Outcome:
        """One change made, by the handler of its class."""
        if isinstance(change, CreatePipeline):
            created = self._create_pipeline(change, body)
            self.pipeline_id = int(created["id"])
            return Outcome(change, "applied", object_id=self.pipeline_id)
        pipeline_id = change.pipeline_id if change.pipeline_id is not None else self.pipeline_id
        assert pipeline_id is not None
        return self._HANDLERS[type(change)](self, change, pipeline_id, body)

    def _update_pipeline(self, change: Change, pipeline_id: int, body: dict[str, Any]) -> Outcome:
        answer = self.client.update_pipeline(change.workspace, change.project, pipeline_id, body)
        self.verify(change, body, answer)
        return Outcome(change, "applied", object_id=pipeline_id)

    def _create(self, change: Change, pipeline_id: int, body: dict[str, Any]) -> Outcome:
        send = dict(body)
        if change.after_action_id is not None:
            send["after_action_id"] = change.after_action_id
        elif change.after_action_name is not None:
            send["after_action_id"] = self.created[change.after_action_name]
        answer = self._create_action(change, pipeline_id, send)
        self.created[change.action_name or ""] = int(answer["id"])
        self.verify(change, body, answer)
        return Outcome(change, "applied", object_id=int(answer["id"]))

    def _update(self, change: Change, pipeline_id: int, body: dict[str, Any]) -> Outcome:
        assert change.action_id is not None
        answer = self.client.update_action(change.workspace, change.project, pipeline_id, change.action_id, body)
        self.verify(change, body, answer)
        return Outcome(change, "applied", object_id=change.action_id)

    def _delete(self, change: Change, pipeline_id: int, body: dict[str, Any]) -> Outcome:
        assert change.action_id is not None
        try:
            self.client.delete_action(change.workspace, change.project, pipeline_id, change.action_id)
        except NotFoundError:
            return Outcome(change, "applied", "already gone", object_id=change.action_id)
        return Outcome(change, "applied", object_id=change.action_id)

    def _delete_pipeline(self, change: Change, pipeline_id: int, body: dict[str, Any]) -> Outcome:
        try:
            self.client.delete_pipeline(change.workspace, change.project, pipeline_id)
        except NotFoundError:
            return Outcome(change, "applied", "already gone", object_id=pipeline_id)
        return Outcome(change, "applied", object_id=pipeline_id)

    #: how each kind of change is made, once its pipeline exists (a pipeline's create makes it)
    _HANDLERS: ClassVar[Mapping[type[Change], Callable[[_PipelineRun, Change, int, dict[str, Any]], Outcome]]] = {
        UpdatePipeline: _update_pipeline,
        CreateAction: _create,
        UpdateAction: _update,
        DeleteAction: _delete,
        DeletePipeline: _delete_pipeline,
    }

    def _create_pipeline(self, change: Change, body: dict[str, Any]) -> dict[str, Any]:
        c, ws, project = self.client, change.workspace, change.project
        return self._create_once(
            lambda: c.create_pipeline(ws, project, body),
            lambda: live.find_pipeline(c, ws, project, change.pipeline),
        )

    def _create_action(self, change: Change, pipeline_id: int, body: dict[str, Any]) -> dict[str, Any]:
        c, ws, project = self.client, change.workspace, change.project
        return self._create_once(
            lambda: c.create_action(ws, project, pipeline_id, body),
            lambda: live.find_action(c, ws, project, pipeline_id, change.action_name or ""),
        )

    def _create_once(
        self, post: Callable[[], dict[str, Any]], find: Callable[[], dict[str, Any] | None]
    ) -> dict[str, Any]:
        return uncertain.create_once(
            post, find, looks=self.looks, stop=self.stop, window=uncertain.window(self.client.timeout)
        )

    def verify(self, change: Change, body: Mapping[str, Any], answer: Mapping[str, Any]) -> None:
        """The server's answer is what it stored: a declared field that still differs is a
        normalisation the diff does not know yet, worth a warning. Each field is checked as its rule
        compares it (``normal.rule``): its compared part only (write-only parts left out, a wholly
        write-only field not at all); a pipeline's as the server stores it (a ``null`` is its default)."""
        on = "pipeline" if change.on_pipeline else "action"
        where = f'pipeline "{change.pipeline}"' + ("" if change.on_pipeline else f', action "{change.action_name}"')
        for name, value in body.items():
            field = normal.rule(name, on)
            part = field.compared(value)
            if part is normal.NOTHING or not field.differs(part, answer.get(name)):
                continue
            raw = (change.fields or {}).get(name)
            shown = SENSITIVE if fields.is_sensitive(name, raw) else repr(answer.get(name))
            self.warn(
                f"{where}: field {name} still differs after apply (Buddy has {shown}); "
                "the diff may need to learn this normalisation"
            )


def apply_plan(
    client: BuddyClient,
    plan: Plan,
    options: Options,
    how: ApplyOptions = ApplyOptions(),  # noqa: B008 (frozen)
    *,
    live_counts: Mapping[str, int] | None = None,
    declared: Mapping[tuple[str, str, str], Collection[str]] | None = None,
) -> ApplyReport:
    """Make the plan's changes. Refuses (before any write) when unsafe or when a variable is unset.

    ``options.limits`` are the safety check's (a pipeline's ``safety:`` in the plan goes over them),
    counted against ``live_counts``; ``how`` holds ``force`` and the hooks (see ``ApplyOptions``);
    ``declared`` names, per (workspace, project, pipeline name), the declared actions whose duplicates
    the check after the changes reports (default: those the plan names)."""
    bodies = resolve_fields(plan, options.environment)
    skipped = plan.raise_if_unsafe(force=how.force, live_counts=live_counts, limits=options.limits)
    report = ApplyReport()
    report.warnings.extend(SafetyWarning.of(c, forced=True) for c in skipped)
    stop, progress = how.stop if how.stop is not None else threading.Event(), how.progress
    lock = threading.Lock()
    groups: dict[str, list[tuple[Change, dict[str, Any] | None]]] = {}
    for index, change in enumerate(plan.changes):
        groups.setdefault(change.pipeline_key, []).append((change, bodies.get(index)))
    if not groups:
        return report
    if how.approve is not None:
        how.approve(plan)
    if progress is not None:
        progress.start(len(plan.changes))
    runs = [_PipelineRun(client, report, lock, progress, stop, how.looks) for _ in groups]
    try:
        with ThreadPoolExecutor(max_workers=client.parallelism, thread_name_prefix="apply") as pool:
            futures = [pool.submit(run.run, changes) for run, changes in zip(runs, groups.values(), strict=True)]
            for future in futures:
                future.result()
    finally:
        if progress is not None:
            progress.finish()
    order = {id(c): i for i, c in enumerate(plan.changes)}
    report.outcomes.sort(key=lambda o: order[id(o.change)])
    report.interrupted = stop.is_set()
    if not report.interrupted:
        with contextlib.suppress(ReadsStopped):  # an interrupt cut the check short
            report.errors.extend(check_duplicates(client, report, declared, stop))
        report.interrupted = stop.is_set()
    if report.interrupted and report.of("applied"):
        report.warnings.append(UNCHECKED)
    return report


#: said of an interrupted apply that changed something: the check after the changes was cut short or skipped
UNCHECKED = "the check for duplicates after the changes was not done (interrupted): run `reconcile plan` to see"


def check_duplicates(
    client: BuddyClient,
    report: ApplyReport,
    declared: Mapping[tuple[str, str, str], Collection[str]] | None = None,
    stop: threading.Event | None = None,
) -> list[str]:
    """Read again every pipeline the applied changes touched (through ``live``): two live multi-arch
    actions with one declared name, or two pipelines named as one this apply touched, are errors,
    each saying what the evidence shows (``_cause``). A read that fails is an error too: nothing was
    checked. A set ``stop`` starts no further read (``ReadsStopped``)."""
    seen = _Seen.of(report, declared or {})
    try:
        found = live.read_touched(client, sorted(seen.touched), sorted(seen.named), stop)
    except ApiError as exc:
        return [f"could not read the changed pipelines again to check for duplicates: {exc.message}"]
    errors: list[str] = []
    for (ws, project), names in sorted(seen.named.items()):
        for name in sorted(names):
            ids = [int(p["id"]) for p in found.pipelines[(ws, project)] if p.get("name") == name]
            if len(ids) > 1:
                errors.append(
                    f'{ws}/{project}: {len(ids)} live pipelines are named "{name}" ({_ids(ids)}): '
                    f"{_cause(ids, seen.made_pipelines, seen.known_pipelines, 'pipeline')}; rename or delete all "
                    "but one in Buddy (with their actions), then run apply again"
                )
    for (ws, project, pipeline_id), (pipeline, names) in sorted(seen.touched.items()):
        actions = found.actions.get((ws, project, pipeline_id)) or ()
        for name in sorted(names):
            ids = [a.id for a in actions if a.name == name and a.type == MULTI_ARCH]
            if len(ids) > 1:
                errors.append(
                    f'{ws}/{project} pipeline "{pipeline}" (#{pipeline_id}): {len(ids)} live actions are named '
                    f'"{name}" ({_ids(ids)}): {_cause(ids, seen.made_actions, seen.known_actions, "action")}; run '
                    "`reconcile apply --dedupe` to keep the first and delete the others"
                )
    return errors


@dataclass
class _Seen:
    """What the applied changes say, for ``check_duplicates``: the pipelines to read again (with the
    declared action names to look for), the names to look for per project, what this apply created,
    and the ids its plan knew (those its changes name)."""

    touched: dict[tuple[str, str, int], tuple[str, set[str]]] = field(default_factory=dict)
    named: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    made_pipelines: set[int] = field(default_factory=set)
    made_actions: set[int] = field(default_factory=set)
    known_pipelines: set[int] = field(default_factory=set)
    known_actions: set[int] = field(default_factory=set)

    @classmethod
    def of(cls, report: ApplyReport, declared: Mapping[tuple[str, str, str], Collection[str]]) -> _Seen:
        seen = cls()
        for outcome in report.of("applied"):
            change = outcome.change
            if isinstance(change, DeletePipeline):
                continue  # gone: nothing of it to check
            created_here = isinstance(change, CreatePipeline)
            pipeline_id = outcome.object_id if created_here else change.pipeline_id
            if pipeline_id is None:
                continue
            (seen.made_pipelines if created_here else seen.known_pipelines).add(pipeline_id)
            if isinstance(change, CreateAction) and outcome.object_id is not None:
                seen.made_actions.add(outcome.object_id)
            elif change.action_id is not None:
                seen.known_actions.add(change.action_id)
            # every pipeline touched (created, renamed, updated) is looked for under its name once applied
            seen.named.setdefault((change.workspace, change.project), set()).add(change.pipeline)
            names = set(declared.get((change.workspace, change.project, change.pipeline), ()))
            entry = seen.touched.setdefault((change.workspace, change.project, pipeline_id), (change.pipeline, names))
            if change.action_name is not None and change.leaves_action:
                entry[1].add(change.action_name)
        return seen


def _ids(ids: Collection[int]) -> str:
    return ", ".join(f"#{i}" for i in ids)


def _cause(ids: list[int], made: set[int], known: set[int], what: str) -> str:
    """What the evidence says of duplicates ``ids``: another apply is named only when this apply created
    one of them and another is one its plan never saw (its read before the changes, confirmed, did not
    list it); otherwise what was seen."""
    ours = [i for i in ids if i in made]
    others = [i for i in ids if i not in made]
    if ours and not any(i in known for i in others):
        return (
            f"this apply created {_ids(ours)}, and {_ids(others)} is not one its plan read: another apply (or "
            f"someone in Buddy) most likely added it while this one ran"
        )
    if ours:
        return f"this apply created {_ids(ours)} and changed {_ids(others)}: two {what}s it manages now share a name"
    changed = [i for i in ids if i in known]
    did = f" (it changed {_ids(changed)})" if changed else ""
    return f"this apply created none of them{did}: the name was there already, or was given meanwhile in Buddy"
