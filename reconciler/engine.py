"""The commands as functions composed from the modules: they return values and print nothing.

Commands that talk to Buddy take a client factory (``Connect``): given the declared pipelines (the
sandbox seeds empty ones for them), it opens a client for the duration of a ``with`` block. The CLI
passes one for Buddy or the sandbox; a caller holding a client passes ``given(client)``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler import suggest
from reconciler.config import build as config_module
from reconciler.errors import PipelineError
from reconciler.model import DesiredPipeline, PipelineKey
from reconciler.problems import Problem

# The client, live reads, apply and import bring httpx (and deepdiff for plans), and the plan modules
# are plan's and apply's: each command imports what it needs when it runs, so that ``validate`` (a
# pre-commit hook) starts without them.
if TYPE_CHECKING:
    from reconciler.apply import ApplyReport
    from reconciler.buddy.client import BuddyClient
    from reconciler.importer import exporter
    from reconciler.plan.options import ApplyOptions, Options
    from reconciler.plan.plan import Plan
    from reconciler.plan.targets import Targeting

#: Opens a client for the declared pipelines (the sandbox seeds empty ones for them).
Connect = Callable[[Sequence[DesiredPipeline]], "AbstractContextManager[BuddyClient]"]


@dataclass
class ValidateResult:
    problems: list[Problem]
    files: list[str]
    skipped: list[str]

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)


def given(client: BuddyClient) -> Connect:
    """A factory that hands out ``client`` itself (left open: its owner closes it)."""
    return lambda _pipelines: contextlib.nullcontext(client)


def validate(paths: Sequence[str | Path]) -> ValidateResult:
    """Schema and semantic checks, no network, every problem at once."""
    documents, problems, skipped, _doubtful = config_module.check_paths(list(paths))
    files = sorted({d.file for d in documents} | {p.location.file for p in problems})
    return ValidateResult(problems, files, skipped)


def load(paths: Sequence[str | Path]) -> config_module.Config:
    """Read and check the files; raises ``ValidationFailed`` with every problem."""
    return config_module.load_config(list(paths))


def build_plan(
    client: BuddyClient,
    pipelines: Sequence[DesiredPipeline],
    options: Options,
    warnings: Sequence[str] = (),
    *,
    force: bool = False,
    declared: Sequence[DesiredPipeline] | None = None,
    prune_pipelines: bool = True,
    doubtful: Sequence[str] = (),
) -> Plan:
    """Read live state for ``pipelines`` and diff it into a plan; the safety check is a warning
    (saying it is skipped with ``force``). The live pipelines of their projects that none of
    ``declared`` (default ``pipelines``) names are told, and deleted where the files say
    ``prune_pipelines`` (unless not ``prune_pipelines``: a targeted plan; and none while a file that
    might declare pipelines was passed over, ``doubtful``, or a declaration failed to plan)."""
    from reconciler.buddy.live import ABSENT, read_live
    from reconciler.plan import orphans
    from reconciler.plan.diff import diff_pipeline
    from reconciler.plan.plan import PipelinePlan, Plan, Skipped, Target

    made = Plan(Target(base_url=client.target), warnings=list(warnings))
    states = read_live(client, pipelines, dedupe=options.dedupe)
    for state in states:
        desired = state.desired
        if state.nearby is not None:
            made.warnings.append(
                f'{desired.location}: pipeline "{desired.name}" does not exist in {desired.workspace}/'
                f"{desired.project} and will be created{suggest.hint(state.nearby)}"
            )
        made.warnings.extend(state.warnings)
        if state.error:
            made.add_error(desired.workspace, desired.project, desired.label, state.error)
        elif state.skipped and state.live is not None:
            made.add_skipped(Skipped(desired.workspace, desired.project, state.live.name, state.live.id, state.skipped))
        else:
            try:
                made.add_pipeline(diff_pipeline(desired, state.live, state.details, options))
                if state.free_name is not None:  # a saved rename is stale once another pipeline takes the name
                    free = PipelineKey.of(desired.workspace, desired.project, None, state.free_name)
                    made.pipelines.append(PipelinePlan(str(free), fingerprint=ABSENT))
            except PipelineError as exc:
                made.add_error(desired.workspace, desired.project, desired.label, exc.reason)
    orphans.add_to_plan(
        client, made, states, pipelines if declared is None else declared, prune=prune_pipelines, doubtful=doubtful
    )
    made.add_safety_warnings(options.limits, force=force)
    return made


def _targeted(
    cfg: config_module.Config, targeting: Targeting | None
) -> tuple[list[DesiredPipeline], Targeting | None, list[str]]:
    """The declared pipelines to read and plan, the targeting with its counts, and the warnings."""
    warnings = [w.unmarked for w in cfg.warnings]
    if targeting is None or not targeting.active:
        return list(cfg.pipelines), None, warnings
    pipelines, counted = targeting.select(cfg.pipelines)
    return pipelines, counted, [counted.note(), *warnings]


def plan(connect: Connect, paths: Sequence[str | Path], options: Options, targeting: Targeting | None = None) -> Plan:
    """``reconcile plan``: files → desired, live state → plan (of the targeted pipelines only)."""
    from reconciler.plan.diff import check_variables
    from reconciler.plan.secrets import check_secret_names

    cfg = load(paths)
    pipelines, counted, warnings = _targeted(cfg, targeting)
    check_secret_names(pipelines, options)  # a usage error, before any request
    with connect(pipelines) as client:
        check_variables(pipelines, options)  # every unset variable at once, before any request
        made = build_plan(
            client,
            pipelines,
            options,
            warnings,
            declared=cfg.pipelines,
            prune_pipelines=counted is None,
            doubtful=cfg.doubtful,
        )
    made.targeting = counted
    made.skipped_files = list(cfg.skipped)
    return made


def apply(
    connect: Connect,
    paths: Sequence[str | Path],
    options: Options,
    how: ApplyOptions | None = None,
    *,
    show: Callable[[Plan], None] | None = None,
    targeting: Targeting | None = None,
) -> tuple[Plan, ApplyReport]:
    """``reconcile apply PATH…``: plan against live state (targeted pipelines only), then make the
    changes as ``how`` says (see ``ApplyOptions``; none: its defaults). ``show`` gets the plan as soon as
    it is made (before the safety check or any write)."""
    from reconciler.apply import apply_plan
    from reconciler.plan.diff import check_variables
    from reconciler.plan.options import ApplyOptions
    from reconciler.plan.secrets import check_secret_names

    how = ApplyOptions() if how is None else how

    cfg = load(paths)
    pipelines, counted, warnings = _targeted(cfg, targeting)
    declared = {(p.workspace, p.project, p.name): {a.name for a in p.actions} for p in pipelines if p.name}
    check_secret_names(pipelines, options)
    with connect(pipelines) as client:
        check_variables(pipelines, options)
        made = build_plan(
            client,
            pipelines,
            options,
            warnings,
            force=how.force,
            declared=cfg.pipelines,
            prune_pipelines=counted is None,
            doubtful=cfg.doubtful,
        )
        made.targeting = counted
        if show is not None:
            show(made)
        report = apply_plan(client, made, options, how, live_counts=made.live_counts, declared=declared)
    return made, report


def apply_saved(
    connect: Connect,
    saved: Plan,
    options: Options,
    how: ApplyOptions | None = None,
    *,
    workspace: str | None = None,
    connected: Callable[[], None] | None = None,
) -> ApplyReport:
    """``reconcile apply --plan FILE``: exactly that plan, refused before any write when it was made
    for another target or when a pipeline it touches has changed since. ``connected`` is called once
    the client is open (the CLI shows the plan then); ``how`` none: ``ApplyOptions``' defaults."""
    from reconciler.apply import apply_plan, resolve_fields
    from reconciler.plan.options import ApplyOptions
    from reconciler.saved import check_target, refresh

    how = ApplyOptions() if how is None else how

    with connect(()) as client:
        if connected is not None:
            connected()
        check_target(saved, client, workspace)
        saved.check_targeting()
        resolve_fields(saved, options.environment)  # an unset variable fails before any read
        return apply_plan(client, saved, options, how, live_counts=refresh(client, saved))


def import_(
    connect: Connect,
    workspace: str,
    project: str,
    *,
    pipelines: Sequence[str] = (),
    output: Path,
    split: bool = False,
    force: bool = False,
    defaults: bool = False,
    environ: Mapping[str, str] | None = None,
) -> exporter.ExportResult:
    """``reconcile import``: write config files for the live pipelines of ``workspace``/``project``
    (``environ``: where login references of the repository's files are read, see ``exporter.export``)."""
    from reconciler.importer import exporter

    with connect(()) as client:
        return exporter.export(
            client,
            workspace,
            project,
            pipelines=pipelines,
            output=output,
            split=split,
            force=force,
            defaults=defaults,
            environ=environ,
        )
