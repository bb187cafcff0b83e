"""What the API answered, read without trusting it: JSON decoding, shapes and the server's words.

The client (the only network module) hands answers here once they are read in full. Nothing here
shows a value the server sent, except its own error message, which is cut short and stripped of
control characters (a server, or a proxy, must not be able to move the user's cursor or clear the
screen) before the client redacts it.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeGuard

#: the deepest nesting an answer may have: the contract's objects are a few levels deep, and the
#: code that compares and renders them recurses, so a deeper answer is refused where it arrives
MAX_DEPTH = 64
#: control characters (C0, DEL, C1) in the server's words become a space
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


class TooDeep(ValueError):
    """An answer nested deeper than :data:`MAX_DEPTH`."""


def decode(body: bytes) -> Any:
    """The JSON value of ``body``; ``ValueError`` when it is not strict JSON (``NaN`` and
    ``Infinity`` are not JSON), ``TooDeep`` when it nests past ``MAX_DEPTH``."""
    try:
        value = json.loads(body, parse_constant=_refuse_constant)
    except RecursionError:
        raise TooDeep from None
    check_depth(value)
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def check_depth(value: Any, limit: int = MAX_DEPTH) -> None:
    """Raise ``TooDeep`` when ``value`` nests lists and objects more than ``limit`` deep (iterative)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            raise TooDeep
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item if isinstance(v, (dict, list)))


def is_id(value: Any) -> TypeGuard[int]:
    """An object id as the API gives it: an integer, and not a boolean (JSON ``true`` is no id)."""
    return isinstance(value, int) and not isinstance(value, bool)


def kind(value: Any) -> str:
    """What a JSON value is, for a message (never the value itself)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    kinds = {dict: "an object", list: "a list", str: "a string", int: "an integer", float: "a number"}
    return kinds.get(type(value), type(value).__name__)


def without_controls(text: str) -> str:
    """``text`` with every run of control characters (escape sequences' lead-in included) as a space."""
    return _CONTROL.sub(" ", text).strip()


def server_message(body: bytes, reason: str, limit: int = 500) -> str:
    """The server's own words (``{"errors": [{"message": …}]}``, else the reason phrase), printable,
    cut to ``limit`` characters."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        data = None
    text = reason or "no message"
    if isinstance(data, dict) and isinstance(data.get("errors"), list):
        messages = [str(e.get("message")) for e in data["errors"] if isinstance(e, dict)]
        if messages:
            text = "; ".join(messages)
    text = without_controls(text) or "no message"
    return text if len(text) <= limit else text[:limit] + "…"
