"""The fast predicate of one action: a closure per schema node, at least as strict as jsonschema.

``schema.py`` falls back to jsonschema whenever this raises ``Unsupported`` (a keyword it does not
know), so a new keyword can never make the check laxer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urldefrag, urljoin

from referencing import Registry

# ---------------------------------------------------------------------------------------------------
# The fast predicate
#
# Each schema node becomes one closure. The rule that keeps it safe: it may refuse what jsonschema
# accepts (that only costs time: jsonschema then finds nothing), never the reverse. So `type` and `enum`
# test exact Python types (what a YAML or JSON parser produces; a subclass such as an OrderedDict fails
# and goes to jsonschema), while the keywords that apply only to some kinds of value (`properties`,
# `items`, `minLength`, ...) use isinstance, so that no subclass can slip past them. Objects are checked
# in one pass over their keys (required, properties, additionalProperties together).


#: The registry the references resolve in (set by ``schema.py`` before the first compile).
_REGISTRY: list[Registry] = []


class Unsupported(Exception):
    """The schema uses a keyword the compiler does not implement."""


Check = Callable[[Any], bool]

# Keywords that only annotate: they never make an instance invalid.
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$defs", "$comment", "title", "description", "readOnly", "writeOnly", "examples", "default"}
)
_KEYWORDS = frozenset(
    {"type", "enum", "minLength", "required", "properties", "additionalProperties", "items", "$ref", "not", "anyOf"}
)
_PY_TYPES: dict[str, tuple[type, ...]] = {
    "null": (type(None),),
    "boolean": (bool,),
    "integer": (int,),  # not a float with no fraction: see _StrictValidator
    "number": (int, float),
    "string": (str,),
    "array": (list,),
    "object": (dict,),
}


def _true(value: Any) -> bool:
    return True


def _false(value: Any) -> bool:
    return False


def compile_schema(schema: Any, base: str, registry: Registry) -> Check:
    """The predicate of ``schema`` (whose references are relative to ``base``, resolved in ``registry``)."""
    _REGISTRY[:] = [registry]
    return compile_node(schema, base, {})


def _compile(uri: str, memo: dict[str, Check]) -> Check:
    """A predicate equivalent to validating against the schema at ``uri`` (absolute, with a JSON pointer
    fragment), for the keywords these schemas use; anything else raises ``Unsupported``."""
    if uri in memo:
        return memo[uri]
    # A placeholder first, so that a reference cycle compiles (bound late) instead of recursing forever.
    compiled: list[Check] = []
    memo[uri] = lambda value: compiled[0](value)
    document = urldefrag(uri).url
    compiled.append(compile_node(_REGISTRY[0].resolver().lookup(uri).contents, document, memo))
    memo[uri] = compiled[0]
    return compiled[0]


def compile_node(schema: Any, base: str, memo: dict[str, Check]) -> Check:
    """The predicate of one schema node (references relative to ``base``); ``Unsupported`` for a
    keyword it does not know."""
    if schema is True:
        return _true
    if schema is False:
        return _false
    _check_supported(schema, base)
    return _all(_keyword_checks(schema, base, memo))


def _check_supported(schema: Any, base: str) -> None:
    """Raise ``Unsupported`` unless ``schema`` is an object of known keywords only."""
    if not isinstance(schema, dict):
        raise Unsupported(repr(schema))
    unknown = set(schema) - _ANNOTATIONS - _KEYWORDS
    if unknown or "patternProperties" in schema or "prefixItems" in schema:
        raise Unsupported(", ".join(sorted(unknown)))
    if schema.get("$id", base) != base:
        raise Unsupported("an embedded $id")  # it would change the base of the references below it


def _keyword_checks(schema: dict[str, Any], base: str, memo: dict[str, Check]) -> list[Check]:
    """One predicate per keyword (or group of object keywords) of ``schema``, all to hold."""
    checks: list[Check] = []
    if "type" in schema:
        checks.append(_type_check(schema["type"]))
    if "enum" in schema:
        checks.append(_enum_check(schema["enum"]))
    if "minLength" in schema:
        least = schema["minLength"]
        checks.append(lambda v: not isinstance(v, str) or len(v) >= least)
    if {"required", "properties", "additionalProperties"} & set(schema):
        checks.append(_object_check(schema, base, memo))
    if "items" in schema:
        item = compile_node(schema["items"], base, memo)
        checks.append(lambda v: not isinstance(v, list) or all(map(item, v)))
    if "$ref" in schema:
        target = urljoin(base, schema["$ref"])
        checks.append(_compile(target if "#" in target else target + "#", memo))
    if "not" in schema:
        negated = compile_node(schema["not"], base, memo)
        checks.append(lambda v: not negated(v))
    if "anyOf" in schema:
        options = [compile_node(sub, base, memo) for sub in schema["anyOf"]]
        checks.append(lambda v: any(option(v) for option in options))
    return checks


def _all(checks: list[Check]) -> Check:
    # Unrolled for the common short cases: a generator per call costs more than the checks themselves.
    if not checks:
        return _true
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda v: first(v) and second(v)
    return lambda v: all(check(v) for check in checks)


def _type_check(kind: str | list[str]) -> Check:
    kinds = [kind] if isinstance(kind, str) else kind
    exact = frozenset(t for k in kinds for t in _PY_TYPES[k])
    return lambda v: type(v) in exact


def _enum_check(values: list[Any]) -> Check:
    if not all(v is None or isinstance(v, str) for v in values):
        raise Unsupported("an enum of other than strings and null")
    strings = frozenset(v for v in values if isinstance(v, str))
    if None in values:
        return lambda v: v is None or (type(v) is str and v in strings)
    return lambda v: type(v) is str and v in strings


def _object_check(schema: dict[str, Any], base: str, memo: dict[str, Check]) -> Check:
    """``required``, ``properties`` and ``additionalProperties`` in one pass; true for a non-object."""
    required = tuple(schema.get("required", ()))
    props = {key: compile_node(sub, base, memo) for key, sub in schema.get("properties", {}).items()}
    extra = compile_node(schema.get("additionalProperties", True), base, memo)

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return True
        for key in required:
            if key not in value:
                return False
        for key, item in value.items():  # noqa: SIM110 - a plain loop; all() with a generator is slower
            if not props.get(key, extra)(item):
                return False
        return True

    return check
