"""Environment references in config values: ``${env:NAME}`` and ``${env:NAME:-default}``.

A reference may stand anywhere inside a string. ``$${env:`` writes a literal ``${env:`` (the
reference is not resolved and one ``$`` is dropped). Buddy's own variables, ``$NAME`` and ``${NAME}``,
are not ours: they are left exactly as written and the server expands them at run time.

``validate`` only checks the syntax (``syntax_errors``), so it needs no environment; ``plan`` and
``apply`` call ``resolve``. Like the shell's ``${NAME:-default}``, a default is used when the variable is
unset *or empty*; and without a default an empty variable is an error just like an unset one, because
CI systems hand over a missing secret as an empty string and sending an empty password is never meant.
A default runs up to the first ``}``: it cannot contain one.

``Environment`` is the one resolver the plan and apply hold: the variables and whether this is the
sandbox, saying what a value is once resolved (to compare or to send) and which variables are missing.
The literal ``${env:`` is spelled here alone: ``OPEN``, ``reference()`` and ``escape()``.

No message built here ever contains the value of a variable, nor a default (a default on a
write-only field is refused by the rules, but messages stay value-free everywhere to be safe).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.errors import EnvError
from reconciler.problems import Location

#: how a reference opens
OPEN = "${env:"
#: how a literal ``${env:`` is written (it is not a reference)
ESCAPED_OPEN = "$${env:"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: Prefix of the placeholder that stands for an unset variable in the sandbox.
SANDBOX_PREFIX = "sandbox:"


def reference(name: str) -> str:
    """The reference to variable ``name``: ``${env:NAME}``."""
    return f"{OPEN}{name}}}"


def escape(value: Any) -> Any:
    """``value`` with every literal ``${env:`` written ``$${env:``, so that reading it back gives the
    same text instead of an environment reference (strings inside mappings and lists too)."""
    if isinstance(value, str):
        return value.replace(OPEN, ESCAPED_OPEN)
    if isinstance(value, Mapping):
        return {key: escape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [escape(item) for item in value]
    return value


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
    if OPEN not in value:  # the common case: no reference at all
        return found
    i = value.find("$")
    while i != -1:
        if value.startswith(ESCAPED_OPEN, i):
            i = value.find("$", i + len(ESCAPED_OPEN))
            continue
        if not value.startswith(OPEN, i):
            i = value.find("$", i + 1)
            continue
        body_start = i + len(OPEN)
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


def unset_names(value: Any, env: Mapping[str, str]) -> list[str]:
    """The variables ``value`` references (strings inside dicts and lists too) that are unset or empty
    and have no default: what ``resolve`` would refuse, in order, repeats kept."""
    return [
        ref.name for text in strings(value) for ref in find_refs(text) if not env.get(ref.name) and ref.default is None
    ]


def strings(value: Any) -> Iterator[str]:
    """Every string inside ``value``: itself, or the strings of its dict values and list items, at any depth."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings(item)


def unset_report(names: Iterable[str], details: Sequence[str], *, doing: str = "") -> str:
    """The short form of "variables are not set": one line naming them, then one detail per line.

    ``doing`` says what was stopped (``"cannot apply (nothing was changed)"``); ``details`` are the
    located messages, each naming one reference."""
    unique = sorted(set(names))
    count = "environment variable" if len(unique) == 1 else f"{len(unique)} environment variables"
    head = f"{doing}: " if doing else ""
    lines = [f"{head}{count} not set: {', '.join(unique)}"]
    lines.append("  (`reconcile env` lists every variable the files use and where)")
    lines += [f"  {detail}" for detail in dict.fromkeys(details)]
    return "\n".join(lines)


@dataclass(frozen=True)
class Environment:
    """Where references are resolved: the ``variables`` (the process environment, for the CLI) and
    whether this is the ``sandbox``, where an unset variable becomes the placeholder ``sandbox:NAME``.

    Which part of a field needs its variables is the field's question (``plan.normal``); given that
    part, this says what it is once resolved and what is missing for it."""

    variables: Mapping[str, str] = field(default_factory=dict)
    sandbox: bool = False

    def resolve(self, value: Any, location: Location | None = None) -> Any:
        """``value`` resolved: what is compared (given the compared part) and what is sent. An unset
        variable without a default is an ``EnvError`` naming ``location`` (a placeholder in the sandbox)."""
        return resolve(value, self.variables, sandbox=self.sandbox, location=location)

    def missing(self, value: Any, location: Location | None = None) -> list[str]:
        """A located message for every reference of ``value`` that ``resolve`` would refuse (none in
        the sandbox)."""
        return [] if self.sandbox else unset_messages(value, self.variables, location=location)

    def unset(self, value: Any) -> list[str]:
        """The names of the variables of ``value`` that ``resolve`` would refuse (none in the sandbox)."""
        return [] if self.sandbox else unset_names(value, self.variables)


def _resolve_str(value: str, env: Mapping[str, str], sandbox: bool, location: Location | None) -> str:
    if OPEN not in value:
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
    return text.replace(ESCAPED_OPEN, OPEN)
