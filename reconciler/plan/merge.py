"""Partial list items never wipe what they leave out: the PATCH body of a pipeline field, merged with live.

Buddy replaces a list field whole on PATCH. A file that declares some keys of an ``events[]`` item
(a schedule's ``cron``) is compared on those keys only, so sending the item as written would wipe
the keys it leaves out (the schedule's ``timezone``, ``refs``, ``start_date``). ``merged`` gives
each declared item the live item's other keys, when the two are the same item: the same position
and the same kind (an event's ``type``, a condition's ``trigger_condition``, a parameter's ``key``).
``permissions`` (an object) keeps the live keys it leaves out the same way. The plan shows, and
apply sends, the merged value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: The list fields whose items are merged with live, and the key that says two items are the same one.
LIST_ITEM_KIND: Mapping[str, str] = {
    "events": "type",
    "trigger_conditions": "trigger_condition",
    "remote_parameters": "key",
}
#: The object fields whose live keys the file leaves out are kept.
OBJECT_FIELDS = frozenset({"permissions"})


def _with_live(item: Any, live: Any) -> Any:
    """``item`` with the keys only ``live`` has (and are set there) added after its own."""
    if not isinstance(item, Mapping) or not isinstance(live, Mapping):
        return item
    return {**item, **{k: v for k, v in live.items() if k not in item and v is not None}}


def merged(name: str, desired: Any, live: Any) -> Any:
    """What to send for pipeline field ``name`` so that the keys ``desired`` leaves out keep their live
    values; ``desired`` itself for any other field, or when live has nothing to keep."""
    if name in OBJECT_FIELDS:
        return _with_live(desired, live)
    kind = LIST_ITEM_KIND.get(name)
    if kind is None or not isinstance(desired, list) or not isinstance(live, list):
        return desired
    out = []
    for i, item in enumerate(desired):
        other = live[i] if i < len(live) else None
        same = isinstance(item, Mapping) and isinstance(other, Mapping) and item.get(kind) == other.get(kind)
        out.append(_with_live(item, other) if same else item)
    return out
