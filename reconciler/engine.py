"""The commands as functions composed from the modules: they return values and print nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler import config as config_module
from reconciler.apply import ApplyReport, Progress, apply_plan, check_target, refresh, resolve_fields
from reconciler.client import BuddyClient
from reconciler.diff import Options, diff_pipeline
from reconciler.errors import PipelineError
from reconciler.live import PipelineState, read_live
from reconciler.model import DesiredPipeline
from reconciler.plan import Plan, Skipped, Target
from reconciler.problems import Problem


@dataclass
class ValidateResult:
    problems: list[Problem]
    files: list[str]
    skipped: list[str]

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)


def validate(paths: Sequence[str | Path]) -> ValidateResult:
    """Schema and semantic checks, no network, every problem at once."""
    documents, problems, skipped = config_module.check_paths(list(paths))
    files = sorted({d.file for d in documents} | {p.location.file for p in problems})
    return ValidateResult(problems, files, skipped)


#: What the command line says about a plan (prune, secret rotation, sandbox, the environment).
PlanOptions = Options


def build_plan(
    client: BuddyClient,
    pipelines: Sequence[DesiredPipeline],
    options: PlanOptions,
    warnings: Sequence[str] = (),
) -> tuple[Plan, list[PipelineState]]:
    """Read live state for ``pipelines`` and diff it into a plan."""
    states = read_live(client, pipelines)
    plan = Plan(Target(base_url=client.target), warnings=list(warnings))
    for state in states:
        desired = state.desired
        where = f"{desired.workspace}/{desired.project}"
        if state.error:
            plan.errors.append(f'{where} pipeline "{desired.label}": {state.error}')
            continue
        if state.skipped and state.live is not None:
            plan.skipped.append(
                Skipped(desired.workspace, desired.project, state.live.name, state.live.id, state.skipped)
            )
            continue
        try:
            result = diff_pipeline(desired, state.live, state.details, options)
        except PipelineError as exc:
            plan.errors.append(f'{where} pipeline "{desired.label}": {exc.reason}')
            continue
        plan.changes.extend(result.changes)
        plan.warnings.extend(result.warnings)
        plan.fingerprints[result.fingerprint_key] = result.fingerprint
        plan.live_counts[result.fingerprint_key] = result.live_count
        if result.declared:
            plan.declared[result.fingerprint_key] = result.declared
    # The safety check of apply, shown as a warning in the plan (and kept in a saved plan).
    plan.warnings.extend(f"apply would refuse this without --force: {reason}" for reason in plan.unsafe())
    return plan, states


def load(paths: Sequence[str | Path]) -> config_module.Config:
    """Read and check the files; raises ``ValidationFailed`` with every problem."""
    return config_module.load_config(list(paths))


def plan(client: BuddyClient, paths: Sequence[str | Path], options: PlanOptions) -> Plan:
    """``reconcile plan``: files → desired, live state → plan."""
    cfg = load(paths)
    result, _states = build_plan(client, cfg.pipelines, options, [str(w) for w in cfg.warnings])
    return result


def apply(
    client: BuddyClient,
    pipelines: Sequence[DesiredPipeline],
    options: PlanOptions,
    *,
    force: bool = False,
    warnings: Sequence[str] = (),
    progress: Progress | None = None,
) -> tuple[Plan, ApplyReport]:
    """``reconcile apply PATH…``: plan against live state, then make the changes."""
    made, _states = build_plan(client, pipelines, options, warnings)
    report = apply_plan(
        client,
        made,
        env=options.env,
        sandbox=options.sandbox,
        force=force,
        live_counts=made.live_counts,
        progress=progress,
    )
    return made, report


def apply_saved(
    client: BuddyClient,
    saved: Plan,
    options: PlanOptions,
    *,
    force: bool = False,
    workspace: str | None = None,
    progress: Progress | None = None,
) -> ApplyReport:
    """``reconcile apply --plan FILE``: exactly that plan, refused before any write when it was made
    for another target or when a pipeline it touches has changed since."""
    check_target(saved, client, workspace)
    resolve_fields(saved, options.env, sandbox=options.sandbox)  # an unset variable fails before any read
    counts = refresh(client, saved)
    return apply_plan(
        client, saved, env=options.env, sandbox=options.sandbox, force=force, live_counts=counts, progress=progress
    )
