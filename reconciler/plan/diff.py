"""Pure: (desired pipeline, live pipeline, live action details) → changes, warnings, fingerprint.

This module only compares. Matching and the canonical form come from ``normal`` (the server's extra
keys and ``null``s ignored, ``target_platform`` a set, ``[]``/``""`` equal to ``null``, an
integration's ``identifier`` its ``hash_id``); which fields are compared and which are write-only
come from ``fields``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from reconciler import envrefs, fields
from reconciler.buddy import dedupe
from reconciler.buddy.matching import match_actions
from reconciler.errors import EnvError, PipelineError
from reconciler.fields import SENSITIVE
from reconciler.fingerprint import ABSENT, live_fingerprint
from reconciler.model import (
    MULTI_ARCH,
    ActionSummary,
    DesiredAction,
    DesiredPipeline,
    LivePipeline,
    PipelineKey,
)
from reconciler.plan import anchors, secrets
from reconciler.plan.changes import Change, CreateAction, CreatePipeline, DeleteAction, UpdateAction, UpdatePipeline
from reconciler.plan.normal import NOTHING, On, rule
from reconciler.plan.options import Options
from reconciler.plan.plan import PipelinePlan

# -- comparing --------------------------------------------------------------------------------------


def needed(name: str, value: Any, *, on: On = "action") -> Any:
    """The part of a declared field whose ``${env:…}`` variables the plan needs (to compare and to
    show), as the field's rule says (``FieldRule.compared``): ``NOTHING`` when it needs none. The one
    place the plan asks which variables it needs."""
    return rule(name, on).compared(value)


def comparable(action: DesiredAction, options: Options) -> dict[str, Any]:
    """The declared fields that are compared, with ``${env:…}`` resolved (placeholders in the sandbox)."""
    env = options.environment
    out: dict[str, Any] = {}
    for name, value in action.fields.items():
        part = needed(name, value)
        if part is not NOTHING:
            out[name] = env.resolve(part, action.field_locations.get(name, action.location))
    return out


def check_variables(pipelines: Sequence[DesiredPipeline], options: Options) -> None:
    """Every variable a plan needs (``needed``) is set: else one ``EnvError`` naming each unset one
    with its file:line, not only the first (in the sandbox an unset one is a placeholder)."""
    env = options.environment
    missing: list[str] = []
    names: list[str] = []
    for pipeline in pipelines:
        parts = [(needed(n, v, on="pipeline"), pipeline.location) for n, v in pipeline.fields.items()]
        for action in pipeline.actions:
            parts += [(needed(n, v), action.field_locations.get(n, action.location)) for n, v in action.fields.items()]
        for part, where in parts:
            if part is not NOTHING:
                missing += env.missing(part, where)
                names += env.unset(part)
    if missing:
        raise EnvError(envrefs.unset_report(names, missing))


def field_differs(name: str, desired: Any, live: Any) -> bool:
    """True when the live value of action field ``name`` differs from the declared one in what the
    file declares (``FieldRule.differs``)."""
    return rule(name).differs(desired, live)


def pipeline_field_differs(name: str, desired: Any, live: Any) -> bool:
    """``field_differs`` for a pipeline field, both sides taken as the server stores them (a ``null``
    is the server's default)."""
    return rule(name, "pipeline").differs(desired, live)


# -- one pipeline -----------------------------------------------------------------------------------


def diff_pipeline(
    desired: DesiredPipeline,
    live: LivePipeline | None,
    details: Mapping[int, Mapping[str, Any]],
    options: Options,
) -> PipelinePlan:
    """The changes that make ``live`` match ``desired``. Raises ``PipelineError`` or ``EnvError``."""
    result = PipelinePlan("", safety=dict(desired.safety or {}))
    if live is None:
        return _new_pipeline(desired, options, result)
    result.key = str(PipelineKey.of(desired.workspace, desired.project, live.id, desired.label))
    result.live_count = len(live.actions)
    full = live
    duplicates: list[dedupe.Duplicate] = []
    if options.dedupe:
        kept, duplicates = dedupe.split(desired, live.actions)
        live = dataclasses.replace(live, actions=kept)
    matched = match_actions(desired, live.actions)
    common: dict[str, Any] = {
        "workspace": desired.workspace,
        "project": desired.project,
        "pipeline": desired.name if desired.name is not None else live.name,  # its name once applied
        "pipeline_id": live.id,
    }
    own = _update_pipeline(desired, live, options, common)

    declared_ids = {a.id for a in matched.values()}
    prune = desired.prune if desired.prune is not None else options.prune
    deletes = [a for a in live.actions if a.type == MULTI_ARCH and a.id not in declared_ids] if prune else []
    deleted_ids = {a.id for a in deletes} | {d.action.id for d in duplicates}

    updates, declared_fields = _updates(desired, matched, details, options, common)
    creates = _creates(desired, live, matched, deleted_ids, options, common, result.warnings)
    if own is not None:
        result.changes.append(own)  # the pipeline's own fields (and name) first
    result.changes.extend(creates)
    result.changes.extend(updates)
    result.changes.extend(
        DeleteAction(action_name=d.action.name, action_id=d.action.id, reason=d.reason, **common) for d in duplicates
    )
    pruned = f"prune: not declared in {desired.file}"
    result.changes.extend(DeleteAction(action_name=a.name, action_id=a.id, reason=pruned, **common) for a in deletes)
    _order_warning(desired, live, matched, result.warnings)
    pipeline_fields = sorted(desired.fields)
    result.fingerprint = live_fingerprint(full, details, declared_fields, pipeline_fields)
    result.declared_actions = declared_fields
    result.declared_fields = pipeline_fields
    return result


def _updates(
    desired: DesiredPipeline,
    matched: Mapping[str, ActionSummary],
    details: Mapping[int, Mapping[str, Any]],
    options: Options,
    common: Mapping[str, Any],
) -> tuple[list[Change], dict[int, list[str]]]:
    """The updates of the declared live actions, and the fields each declares (by live id) for the
    fingerprint."""
    updates: list[Change] = []
    declared_fields: dict[int, list[str]] = {}
    for action in desired.actions:
        target = matched.get(action.name)
        if target is None:
            continue
        declared_fields[target.id] = sorted(k for k in action.fields if not fields.is_write_only(k))
        change = _update(action, target, details.get(target.id, {}), options, common)
        if change is not None:
            updates.append(change)
    return updates, declared_fields


def _update_pipeline(
    desired: DesiredPipeline, live: LivePipeline, options: Options, common: Mapping[str, Any]
) -> Change | None:
    """The PATCH of a live pipeline: its name when the file gives another, and each declared pipeline
    field whose live value differs (``${env:…}`` resolved to compare, sent as written)."""
    sent: dict[str, Any] = {}
    diff: dict[str, dict[str, Any]] = {}
    if desired.name is not None and live.name != desired.name:
        sent["name"] = desired.name
        diff["name"] = {"from": live.name, "to": desired.name}
    for name, raw in desired.fields.items():
        field = rule(name, "pipeline")
        value = options.environment.resolve(field.compared(raw), desired.location)
        current = live.value(name)
        if not field.differs(value, current):
            continue
        raw = field.sent(raw, current)  # a partial item keeps its live keys (Buddy replaces lists whole)
        sent[name] = raw
        sensitive = fields.is_sensitive(name, raw)
        shown_from = SENSITIVE if sensitive else field.as_declared(value, current)
        # shown as the server will store it (a declared null leaves the default), sent as written
        entry: dict[str, Any] = {"from": shown_from, "to": fields.masked(name, field.stored(raw))}
        paths = [] if sensitive else field.describe(value, current)
        if paths:
            entry["paths"] = paths
        diff[name] = entry
    if not sent:
        return None
    return UpdatePipeline(fields=sent, diff=diff, **common)


def _new_pipeline(desired: DesiredPipeline, options: Options, result: PipelinePlan) -> PipelinePlan:
    if desired.name is None:
        raise PipelineError(desired.label, f"no live pipeline has id {desired.id}")
    result.key = str(PipelineKey.of(desired.workspace, desired.project, None, desired.name))
    result.fingerprint = ABSENT
    common: dict[str, Any] = {
        "workspace": desired.workspace,
        "project": desired.project,
        "pipeline": desired.name,
        "pipeline_id": None,
    }
    body = {"name": desired.name, **desired.fields}
    _resolve_check(body, desired.location, options)
    result.changes.append(CreatePipeline(fields=body, **common))
    previous: str | None = None
    for action in desired.actions:
        if action.after is not None and action.after != previous:
            raise PipelineError(
                desired.label,
                f'"{action.name}" is to go after "{action.after}", but the pipeline does not exist yet',
            )
        result.changes.append(_create(action, options, common, None, previous))
        previous = action.name
    return result


def _resolve_check(body: Mapping[str, Any], location: Any, options: Options) -> None:
    """Fail at plan time for an unset variable in a field that plan compares or shows."""
    for name, value in body.items():
        part = needed(name, value, on="pipeline")
        if part is not NOTHING:
            options.environment.resolve(part, location)


def _unset_sensitive(action: DesiredAction, options: Options) -> tuple[str, ...]:
    unset: list[str] = []
    for name, value in action.fields.items():
        if not fields.has_write_only(name, value):
            continue
        try:
            options.environment.resolve(value)  # what apply sends
        except EnvError:
            unset.append(name)
    return tuple(unset)


def _create(
    action: DesiredAction,
    options: Options,
    common: Mapping[str, Any],
    after_id: int | None,
    after_name: str | None,
) -> Change:
    comparable(action, options)  # an unset variable outside write-only fields fails the plan here
    return CreateAction(
        action_name=action.name,
        after_action_id=after_id,
        after_action_name=after_name,
        fields=dict(action.fields),
        unset_sensitive=_unset_sensitive(action, options),
        sources=dict(action.sources) or None,
        **common,
    )


def _update(
    action: DesiredAction,
    live: ActionSummary,
    detail: Mapping[str, Any],
    options: Options,
    common: Mapping[str, Any],
) -> Change | None:
    sent: dict[str, Any] = {}
    diff: dict[str, dict[str, Any]] = {}
    if live.name != action.name:
        sent["name"] = action.name
        diff["name"] = {"from": live.name, "to": action.name}
    for name, value in comparable(action, options).items():
        field = rule(name)
        if field.differs(value, detail.get(name)):
            raw = action.fields[name]
            sent[name] = raw
            sensitive = fields.is_sensitive(name, raw)
            # an unset live value tells nothing secret: shown as it is
            masked_from = sensitive and detail.get(name) is not None
            shown_from = SENSITIVE if masked_from else field.as_declared(value, detail.get(name))
            entry: dict[str, Any] = {"from": shown_from, "to": fields.masked(name, raw)}
            paths = [] if sensitive else field.describe(value, detail.get(name))
            if paths:
                entry["paths"] = paths
            diff[name] = entry
    for name, variables in secrets.resent(action, options).items():
        if name not in sent:
            sent[name] = action.fields[name]
            diff[name] = dict(secrets.resend_entry(name, sent[name], variables))
    if not sent:
        return None
    sources = {name: action.sources[name] for name in sent if name in action.sources}
    for name, where in sources.items():
        diff[name]["source"] = where
    return UpdateAction(
        action_name=action.name,
        action_id=live.id,
        fields=sent,
        diff=diff,
        sources=sources or None,
        unset_sensitive=tuple(n for n in _unset_sensitive(action, options) if n in sent)
        if options.update_secrets
        else (),
        **common,
    )


# -- placement --------------------------------------------------------------------------------------


def _creates(
    desired: DesiredPipeline,
    live: LivePipeline,
    matched: Mapping[str, ActionSummary],
    deleted_ids: set[int],
    options: Options,
    common: Mapping[str, Any],
    warnings: list[str],
) -> list[Change]:
    """Creates in file order, each placed as SPEC.md says (``after``; after the preceding declared
    action; a leading new action before the next declared live one; the end only as a last resort)."""
    position = {a.id: i for i, a in enumerate(live.actions)}
    created: set[str] = set()
    changes: list[Change] = []
    actions = desired.actions
    for index, action in enumerate(actions):
        if action.name in matched:
            continue
        after_id: int | None = None
        after_name: str | None = None
        renamed_from: str | None = None
        if action.after is not None:
            anchor = anchors.named(desired, action, live.actions, matched, created, deleted_ids)
            after_id, after_name, renamed_from = anchor.id, anchor.name, anchor.renamed_from
        elif index > 0:
            previous = actions[index - 1]
            if previous.name in matched:
                after_id, after_name = matched[previous.name].id, matched[previous.name].name
            else:
                after_name = previous.name  # created just before this one
        else:
            after_id, after_name = _before_next_live(desired, live, matched, deleted_ids, position, warnings, action)
        change = _create(action, options, common, after_id, after_name)
        changes.append(dataclasses.replace(change, after_renamed_from=renamed_from) if renamed_from else change)
        created.add(action.name)
    return changes


def _before_next_live(
    desired: DesiredPipeline,
    live: LivePipeline,
    matched: Mapping[str, ActionSummary],
    deleted_ids: set[int],
    position: Mapping[int, int],
    warnings: list[str],
    action: DesiredAction,
) -> tuple[int | None, str | None]:
    """Anchor for a new first action: the live action standing before S, the first declared live one."""
    following = next((matched[a.name] for a in desired.actions if a.name in matched), None)
    if following is None:
        return None, None  # nothing declared is live: appending keeps the file's order
    for candidate in reversed(live.actions[: position[following.id]]):
        if candidate.id not in deleted_ids:
            return candidate.id, candidate.name
    warnings.append(
        f'pipeline "{live.name}": "{action.name}" should come before "{following.name}", the first action of '
        "the pipeline, but the API can only add an action after another one: it will be added at the end. "
        "Move it in Buddy, or give it `after:`"
    )
    return None, None


def _order_warning(
    desired: DesiredPipeline, live: LivePipeline, matched: Mapping[str, ActionSummary], warnings: list[str]
) -> None:
    order = {a.id: i for i, a in enumerate(live.actions)}
    declared = [matched[a.name] for a in desired.actions if a.name in matched]
    if [a.id for a in declared] != sorted((a.id for a in declared), key=order.__getitem__):
        live_order = ", ".join(f'"{a.name}"' for a in sorted(declared, key=lambda a: order[a.id]))
        warnings.append(
            f'pipeline "{live.name}": the live order of the declared actions ({live_order}) differs from the '
            f"file ({desired.file}); the API cannot move actions: reorder them in Buddy"
        )
