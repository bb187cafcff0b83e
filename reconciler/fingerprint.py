"""Fingerprints: what a plan depends on of the live state, so that apply can tell whether it changed.

A plan records one per pipeline (``live_fingerprint``, or ``ABSENT`` for a pipeline it creates);
apply reads the pipeline again, fingerprints it the same way and refuses a stale plan. Pure: the
reads are ``buddy/live.py``'s.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reconciler import fields
from reconciler.model import YAML_FIELDS, LivePipeline

__all__ = ["ABSENT", "PRESENT", "YAML_FIELDS", "fingerprint", "live_fingerprint"]

#: The fingerprint of a pipeline the plan creates: it must still be absent on apply.
ABSENT = "absent"
#: What a re-read finds where the plan expected ``ABSENT``: a pipeline of that name now exists.
PRESENT = "present"


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
    pipeline's own fields, are declared. The live name is always covered (the file matches by it), and so
    are the fields that make a pipeline YAML-defined (a saved plan for one that became so is stale)."""
    values = {
        action_id: {k: details.get(action_id, {}).get(k) for k in names if not fields.is_write_only(k)}
        for action_id, names in declared.items()
    }
    own = {"name": live.name} | {name: live.value(name) for name in (*YAML_FIELDS, *pipeline_fields)}
    return fingerprint([(a.id, a.name, a.type) for a in live.actions], values, own)
