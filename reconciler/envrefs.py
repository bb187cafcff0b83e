"""Environment references in config values: ``${env:NAME}`` and ``${env:NAME:-default}``.

A reference may stand anywhere inside a string. ``$${env:`` writes a literal ``${env:`` (the
reference is not resolved and one ``$`` is dropped). Buddy's own variables, ``$NAME`` and ``${NAME}``,
are not ours: they are left exactly as written and the server expands them at run time.

``validate`` only checks the syntax (``syntax_errors``), so it needs no environment; ``plan`` and
``apply`` call ``resolve``. Like the shell's ``${NAME:-default}``, a default is used when the variable is
unset *or empty*; and without a default an empty variable is an error just like an unset one, because
CI systems hand over a missing secret as an empty string and sending an empty password is never meant.
A default runs up to the first ``}``: it cannot contain one.

No message built here ever contains the value of a variable, nor a default (a default on a
write-only field is refused by the rules, but messages stay value-free everywhere to be safe).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.errors import EnvError
from reconciler.problems import Location

_OPEN = "${env:"
_ESCAPED_OPEN = "$${env:"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: Prefix of the placeholder that stands for an unset variable in the sandbox.
SANDBOX_PREFIX = "sandbox:"


@dataclass(frozen=True)
class EnvRef:
    """One well-formed reference: ``span`` is ``(start, end)`` of its text in the string."""

    name: str
    default: str | None
    span: tuple[int, int]


@dataclass(frozen=True)
class _Malformed:
    start: int
    reason: str


def _scan(value: str) -> list[EnvRef | _Malformed]:
    """Every reference in ``value``, well-formed or not, in order; escapes are skipped over."""
    found: list[EnvRef | _Malformed] = []
    if _OPEN not in value:  # the common case: no reference at all
        return found
    i = value.find("$")
    while i != -1:
        if value.startswith(_ESCAPED_OPEN, i):
            i = value.find("$", i + len(_ESCAPED_OPEN))
            continue
        if not value.startswith(_OPEN, i):
            i = value.find("$", i + 1)
            continue
        body_start = i + len(_OPEN)
        close = value.find("}", body_start)
        if close == -1:
            found.append(_Malformed(i, "unterminated `${env:` reference: a `}` is missing"))
            break
        body = value[body_start:close]
        name, sep, default = body.partition(":-")
        if not name:
            found.append(_Malformed(i, "`${env:…}` reference without a variable name"))
        elif not _NAME.fullmatch(name):
            found.append(
                _Malformed(
                    i,
                    "invalid variable name in `${env:…}` reference: a name is letters, digits and `_`, "
                    "not starting with a digit (a default is written `${env:NAME:-default}`)",
                )
            )
        else:
            found.append(EnvRef(name, default if sep else None, (i, close + 1)))
        i = value.find("$", close + 1)
    return found


def find_refs(value: str) -> list[EnvRef]:
    """The well-formed ``${env:…}`` references in ``value``, in order (escaped ones excluded)."""
    return [r for r in _scan(value) if isinstance(r, EnvRef)]


def syntax_errors(value: str) -> list[str]:
    """Messages for the malformed ``${env:`` references in ``value`` (empty when all are well-formed).

    Each message gives the character position but never the text of the reference."""
    return [f"{r.reason} (at character {r.start + 1} of the value)" for r in _scan(value) if isinstance(r, _Malformed)]


def has_refs(value: Any) -> bool:
    """True when ``value`` (a string, or dicts/lists holding strings) contains a well-formed reference."""
    if isinstance(value, str):
        return bool(find_refs(value))
    if isinstance(value, dict):
        return any(has_refs(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(has_refs(v) for v in value)
    return False


def referenced_names(value: Any) -> list[str]:
    """The names of the well-formed references in ``value`` (a string, or dicts/lists holding
    strings), in order, repeats kept."""
    if isinstance(value, str):
        return [ref.name for ref in find_refs(value)]
    if isinstance(value, dict):
        return [name for item in value.values() for name in referenced_names(item)]
    if isinstance(value, list | tuple):
        return [name for item in value for name in referenced_names(item)]
    return []


def mentions_env(value: Any) -> bool:
    """True when ``value`` (a string, or dicts/lists holding strings) holds an ``${env:`` reference,
    well-formed or malformed.

    Broader than ``has_refs`` on purpose: a malformed reference counts too, since whoever asks (a
    check, a mask) must err on the side of caution. Whether a *field* is sensitive is
    ``fields.is_sensitive``'s question, not this one."""
    if isinstance(value, str):
        return bool(_scan(value))
    if isinstance(value, dict):
        return any(mentions_env(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(mentions_env(v) for v in value)
    return False


def resolve(
    value: Any,
    env: Mapping[str, str],
    *,
    sandbox: bool = False,
    location: Location | None = None,
) -> Any:
    """``value`` with every reference replaced from ``env`` and every ``$${env:`` unescaped.

    Walks dicts and lists (keys are left alone) and returns new containers; other values are returned
    as they are. A variable that is unset (or empty) takes its default; without one it is an
    :class:`EnvError` naming the variable and ``location``, unless ``sandbox`` is true, where it becomes
    the placeholder ``sandbox:NAME``. A malformed reference is an :class:`EnvError` too."""
    if isinstance(value, str):
        return _resolve_str(value, env, sandbox, location)
    if isinstance(value, dict):
        return {k: resolve(v, env, sandbox=sandbox, location=location) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, env, sandbox=sandbox, location=location) for v in value]
    if isinstance(value, tuple):
        return tuple(resolve(v, env, sandbox=sandbox, location=location) for v in value)
    return value


def unset_messages(value: Any, env: Mapping[str, str], *, location: Location | None = None) -> list[str]:
    """A message for every reference in ``value`` (strings inside dicts and lists too) whose variable
    is unset or empty and has no default, each naming ``location``: what ``resolve`` would stop at
    first, all at once. Malformed references are left to ``resolve`` (``validate`` reports them)."""
    if isinstance(value, dict):
        return [m for v in value.values() for m in unset_messages(v, env, location=location)]
    if isinstance(value, list | tuple):
        return [m for v in value for m in unset_messages(v, env, location=location)]
    if not isinstance(value, str):
        return []
    messages: list[str] = []
    for ref in find_refs(value):
        try:
            _lookup(ref, env, False, location)
        except EnvError as exc:
            messages.append(exc.message)
    return messages


def _resolve_str(value: str, env: Mapping[str, str], sandbox: bool, location: Location | None) -> str:
    if "${env:" not in value:
        return value
    out: list[str] = []
    pos = 0
    for ref in _scan(value):
        if isinstance(ref, _Malformed):
            raise EnvError(ref.reason, location)
        start, end = ref.span
        out.append(_unescape(value[pos:start]))
        out.append(_lookup(ref, env, sandbox, location))
        pos = end
    out.append(_unescape(value[pos:]))
    return "".join(out)


def _lookup(ref: EnvRef, env: Mapping[str, str], sandbox: bool, location: Location | None) -> str:
    found = env.get(ref.name)
    if found:
        return found
    if ref.default is not None:
        return ref.default
    if sandbox:
        return SANDBOX_PREFIX + ref.name
    state = "empty" if found == "" else "not set"
    raise EnvError(f"environment variable {ref.name} is {state} (referenced as ${{env:{ref.name}}})", location)


def _unescape(text: str) -> str:
    return text.replace(_ESCAPED_OPEN, _OPEN)
