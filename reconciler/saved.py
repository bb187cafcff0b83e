"""A saved plan checked before it is applied (``apply --plan``): made for this target, and still fresh."""

from __future__ import annotations

from reconciler.buddy import live, settings
from reconciler.buddy.client import BuddyClient
from reconciler.errors import StalePlanError, TargetMismatchError
from reconciler.model import PipelineKey
from reconciler.plan.changes import DeletePipeline
from reconciler.plan.plan import Plan


def check_target(plan: Plan, client: BuddyClient, workspace: str | None) -> None:
    """Refuse a plan made for another base URL or workspace."""
    if plan.target.base_url.rstrip("/") != client.target:
        raise TargetMismatchError(
            f"the plan was made for {settings.display_url(plan.target.base_url)}, not {client.target}; nothing was "
            "changed. "
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
    """Re-read every pipeline the plan touches (through ``live``); refuse (``StalePlanError``) when
    any fingerprint changed. Returns the live action count per pipeline key, and the live pipeline
    count per project (``workspace/project``) with pipeline deletes, for the safety check."""
    names = {c.key: c.pipeline for c in plan.changes}
    keys = sorted({c.key for c in plan.changes} | {PipelineKey.parse(k) for k in plan.fingerprints}, key=str)
    declared = {k: plan.declared_actions(str(k)) for k in keys}
    own = {k: plan.declared_pipeline(str(k)) for k in keys}
    counts: dict[str, int] = {}
    stale: list[str] = []
    deleted = {c.key for c in plan.changes if isinstance(c, DeletePipeline)}
    for state in live.read_keys(client, keys, declared, own):
        key = state.key
        counts[str(key)] = state.count
        if key in deleted and state.kept is not None:  # never deleted, whatever the file says
            stale.append(f'pipeline "{names.get(key, key.id)}" (#{key.id}) is not to be deleted: {state.kept}')
            continue
        if state.fingerprint == plan.fingerprints.get(str(key)):
            continue
        if key.id is None:
            stale.append(f'pipeline "{key.name}" now exists in {key.workspace}/{key.project}')
        elif state.fingerprint is None:
            stale.append(f"pipeline #{key.id} ({names.get(key, '?')}) no longer exists")
        else:
            stale.append(f'pipeline "{names.get(key, key.id)}" (#{key.id})')
    if stale:
        raise StalePlanError(
            "the plan is stale, Buddy changed since it was made: "
            + "; ".join(stale)
            + ". Nothing was changed. Run plan again"
        )
    # the pipelines of a project the plan deletes some of, counted now: not the file's word for it
    projects = sorted({(c.workspace, c.project) for c in plan.changes if isinstance(c, DeletePipeline)})
    listed = client.map(lambda key: client.list_pipelines(*key, confirm=True), projects)
    counts.update({f"{ws}/{project}": len(items) for (ws, project), items in zip(projects, listed, strict=True)})
    return counts
