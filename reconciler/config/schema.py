"""The JSON Schemas of ``schemas/`` and the schema check of a loaded document.

The schemas ship inside the package (``reconciler.schemas``, mapped from the top-level ``schemas/``
directory by the build); from a source tree that was never installed they are read from ``schemas/``
directly. Both are read, and the Draft 2020-12 validator built, once per process.

``check_document`` turns jsonschema's errors into located problems that read like a reviewer's remark:
one problem per mistake, pointing at the offending key or value, never a dump of the schema and never
a value that could be a secret.

Speed: jsonschema walks a schema interpretively, at about a millisecond per action here, which is too
slow for a repository of thousands of actions. So every action is first checked by a small compiled
predicate (``fastcheck``) that knows exactly the keywords these schemas use and is at least as strict as
jsonschema; only an action it refuses is handed to jsonschema, to find out what is wrong. The rest of a
document (top level and pipelines, with their actions left out) is small and always goes to jsonschema.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from reconciler.config import fastcheck
from reconciler.config.defaults import NOT_DEFAULTED
from reconciler.located import Document, PathKey
from reconciler.problems import MAX_PROBLEMS_PER_FILE, Problem, json_path, shown_key
from reconciler.shipped import SchemaName, load_schema, schema_text

#: The URIs the two schemas are registered under. The config schema has no ``$id`` of its own (its
#: relative ``$ref``s must resolve beside wherever it was loaded from), so it is given this one here,
#: a sibling of the action schema's ``$id``.
CONFIG_URI = "https://reconcile.dev/schemas/config.schema.json"
ACTION_URI = "https://reconcile.dev/schemas/action.schema.json"

#: The title of the partial action that every ``defaults`` block is (see scripts/generate_schema.py).
DEFAULTS_TITLE = "Action defaults"

#: Where a config file's action is defined.
ACTION_DEF = CONFIG_URI + "#/$defs/action"


#: Lists whose items' ``value`` may be a secret (write-only, or an encrypted variable).
_SECRET_LISTS = frozenset({"secrets", "variables"})
_JSON_TYPES = {
    type(None): "null",
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}


def standalone_text(name: SchemaName) -> str:
    """The schema as one self-contained document, for ``reconcile schema``: the config schema with
    the action schema embedded under ``$defs``, so a copy saved anywhere resolves on its own."""
    if name == "action":
        return schema_text(name)
    config = json.loads(schema_text("config"))
    action = json.loads(schema_text("action"))
    action.pop("$id", None)
    action.pop("$schema", None)
    inner = "#/$defs/action_schema"

    def rewrite(node: Any, outer: bool) -> Any:
        if isinstance(node, dict):
            out = {k: rewrite(v, outer) for k, v in node.items()}
            ref = out.get("$ref")
            if isinstance(ref, str):
                if outer and ref.startswith("action.schema.json#"):
                    out["$ref"] = inner + ref[len("action.schema.json#") :]
                elif not outer and ref.startswith("#/"):
                    out["$ref"] = inner + ref[1:]
            return out
        if isinstance(node, list):
            return [rewrite(v, outer) for v in node]
        return node

    bundled = rewrite(config, True)
    bundled.setdefault("$defs", {})["action_schema"] = rewrite(action, False)
    return json.dumps(bundled, indent=2, ensure_ascii=False) + "\n"


@cache
def _registry() -> Registry:
    config = {**load_schema("config"), "$id": CONFIG_URI}
    return Registry().with_resources(
        [
            (CONFIG_URI, Resource.from_contents(config, default_specification=DRAFT202012)),
            (ACTION_URI, Resource.from_contents(load_schema("action"), default_specification=DRAFT202012)),
        ]
    )


def _is_integer(checker: Any, instance: Any) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


#: Draft 2020-12 with one difference: an integer is an integer, not a float with no fraction. JSON
#: cannot tell 1 from 1.0, but YAML can, and Buddy refuses ``retry_count: 1.0``; so a file must not
#: pass validate with it. (Validators are built on subschemas without ``$schema``, which would make
#: jsonschema switch back to its own class.)
_StrictValidator = validators.extend(
    Draft202012Validator, type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer)
)


@cache
def _validator() -> Draft202012Validator:
    """The validator of a whole config file. The registry has no retrieval function: a reference that is
    not one of the two schemas fails loudly rather than reaching for the network."""
    # The root is given inline without its `$schema`: jsonschema switches to the validator class that
    # `$schema` names whenever it meets one, which would drop the strict integer check.
    root = {k: v for k, v in load_schema("config").items() if k != "$schema"}
    return _StrictValidator({**root, "$id": CONFIG_URI}, registry=_registry())


def _effective_action() -> dict[str, Any]:
    """One action as validate sees it, defaults applied: the config file's action (which requires only
    a name, since ``type`` may come from a defaults block), and the action schema's own ``required``."""
    return {"$ref": ACTION_DEF, "required": list(load_schema("action")["required"])}


@cache
def _action_validator() -> Draft202012Validator:
    """The validator of one effective action."""
    return _StrictValidator(_effective_action(), registry=_registry())


@cache
def _action_is_valid() -> Callable[[Any], bool]:
    """The fast predicate for one action; jsonschema's own when the schema uses a keyword the compiler
    does not know (so a new keyword can never make the check laxer)."""
    try:
        return fastcheck.compile_schema(_effective_action(), CONFIG_URI, _registry())
    except fastcheck.Unsupported:
        return _action_validator().is_valid


@cache
def _refused_keys() -> frozenset[str]:
    """Action fields the schema refuses outright (read-only fields and ``after_action_id``)."""
    return frozenset(k for k, v in load_schema("action")["properties"].items() if isinstance(v, dict) and "not" in v)


def check_document(doc: Document) -> list[Problem]:
    """Every schema problem of ``doc``, each located at the offending key or value (severity error)."""
    errors: list[tuple[PathKey, ValidationError]] = [((), e) for e in _validator().iter_errors(_skeleton(doc.data))]
    for prefix, action in _actions(doc.data):
        if not _action_is_valid()(action):
            errors.extend((prefix, e) for e in _action_validator().iter_errors(action))
    # A value of the wrong type also fails its enum or length; the type is the one thing to say.
    mistyped = {(*prefix, *e.absolute_path) for prefix, e in errors if e.validator == "type"}
    problems: list[Problem] = []
    seen: set[tuple[PathKey, str]] = set()
    for prefix, error in errors:
        if error.validator != "type" and (*prefix, *error.absolute_path) in mistyped:
            continue
        for where, message, on_key in _describe(error, prefix, suggest=lambda: len(problems) < MAX_PROBLEMS_PER_FILE):
            if error.validator == "type" and where == (*prefix, *error.absolute_path):
                message += _quote_hint(doc, where, error)
            if (where, message) in seen:
                continue
            seen.add((where, message))
            problems.append(Problem(doc.locate(where, key=on_key), json_path(where), message, "error"))
    return problems


def _actions(data: Any) -> Iterator[tuple[PathKey, Any]]:
    """(path, action) of every action of every pipeline, where the file's shape lets us find them."""
    if not isinstance(data, dict) or not isinstance(data.get("pipelines"), list):
        return
    for i, pipeline in enumerate(data["pipelines"]):
        if isinstance(pipeline, dict) and isinstance(pipeline.get("actions"), list):
            for j, action in enumerate(pipeline["actions"]):
                yield ("pipelines", i, "actions", j), action


def _skeleton(data: Any) -> Any:
    """``data`` with every actions list emptied (the actions are checked one by one), copied shallowly."""
    if not isinstance(data, dict) or not isinstance(data.get("pipelines"), list):
        return data
    pipelines = [
        {**p, "actions": []} if isinstance(p, dict) and isinstance(p.get("actions"), list) else p
        for p in data["pipelines"]
    ]
    return {**data, "pipelines": pipelines}


# ---------------------------------------------------------------------------------------------------
# From jsonschema errors to messages


#: What a describer gets: the error, the path of the offending value, the prefix (the path of the value
#: the validator was given) and whether unknown keys are still worth a did-you-mean.
_Describer = Callable[[ValidationError, PathKey, PathKey, Callable[[], bool]], Iterator[tuple[PathKey, str, bool]]]


def _describe(
    error: ValidationError, prefix: PathKey, suggest: Callable[[], bool] = lambda: True
) -> Iterator[tuple[PathKey, str, bool]]:
    """(path, message, whether the path names a key) for each problem ``error`` stands for; ``prefix``
    is the path of the value the validator was given. An unknown key is matched against the known ones
    (``did you mean``) only while ``suggest()``: past the problems validate shows, it is not worth the time."""
    path: PathKey = (*prefix, *error.absolute_path)
    describe = _DESCRIBERS.get(error.validator, _described_as_is)
    yield from describe(error, path, prefix, suggest)


def _described_as_is(
    error: ValidationError, path: PathKey, _prefix: PathKey, _suggest: Callable[[], bool]
) -> Iterator[tuple[PathKey, str, bool]]:
    # Not expected with these schemas; jsonschema's own words, unless they could echo a secret.
    yield path, (error.message if not _is_secret(path) else f"invalid value ({error.validator})"), False


def _unknown_keys(
    error: ValidationError, path: PathKey, _prefix: PathKey, suggest: Callable[[], bool]
) -> Iterator[tuple[PathKey, str, bool]]:
    allowed = [k for k in error.schema.get("properties", {}) if k not in _refused_keys()]
    extras = [k for k in error.instance if k not in error.schema.get("properties", {})]
    for key in extras:
        if error.schema.get("title") == DEFAULTS_TITLE and key in NOT_DEFAULTED:
            yield (*path, key), f"`{key}` cannot be given a default: it is each action's own identity", True
        else:
            yield (*path, key), _unknown_field(key, allowed if suggest() else []), True


def _missing_keys(
    error: ValidationError, path: PathKey, _prefix: PathKey, _suggest: Callable[[], bool]
) -> Iterator[tuple[PathKey, str, bool]]:
    for key in error.validator_value:
        if isinstance(error.instance, dict) and key not in error.instance:
            yield path, f"missing required field `{key}`", False


def _negated(
    error: ValidationError, path: PathKey, prefix: PathKey, suggest: Callable[[], bool]
) -> Iterator[tuple[PathKey, str, bool]]:
    """``not``: a read-only field given, or two keys that exclude each other."""
    if error.schema.get("readOnly"):
        yield path, _refused_message(path), True
    elif set(error.validator_value) == {"required"}:
        first, second = error.validator_value["required"]
        yield path, f"`{first}` and `{second}` exclude each other: give one of them", False
    else:
        yield from _described_as_is(error, path, prefix, suggest)


def _mistyped(
    error: ValidationError, path: PathKey, _prefix: PathKey, _suggest: Callable[[], bool]
) -> Iterator[tuple[PathKey, str, bool]]:
    yield path, _type_message(path, error.validator_value, error.instance, error.schema), False


def _not_allowed(
    error: ValidationError, path: PathKey, _prefix: PathKey, _suggest: Callable[[], bool]
) -> Iterator[tuple[PathKey, str, bool]]:
    values = [v for v in error.validator_value if isinstance(v, str)]
    message = f"{_shown(path, error.instance)} is not one of the allowed values: {', '.join(values)}"
    yield path, message + _enum_hint(error.instance, values), False


def _too_short(
    error: ValidationError, path: PathKey, _prefix: PathKey, _suggest: Callable[[], bool]
) -> Iterator[tuple[PathKey, str, bool]]:
    yield path, _empty_message(path), False


def _out_of_bounds(
    error: ValidationError, path: PathKey, _prefix: PathKey, _suggest: Callable[[], bool]
) -> Iterator[tuple[PathKey, str, bool]]:
    kind = error.validator
    low, high = error.schema.get("minimum"), error.schema.get("maximum")
    bounds = f"between {low} and {high}" if None not in (low, high) else f"at {kind[:3]}imum {error.validator_value}"
    yield path, f"`{path[-1]}` must be {bounds}, not {_shown(path, error.instance)}", False


def _misshapen(
    error: ValidationError, path: PathKey, _prefix: PathKey, _suggest: Callable[[], bool]
) -> Iterator[tuple[PathKey, str, bool]]:
    what = str(error.schema.get("description", "")).split(";")[0]
    yield path, f"{_shown(path, error.instance)} does not fit `{path[-1]}`: {what}", False


def _lacking_companions(
    error: ValidationError, path: PathKey, _prefix: PathKey, _suggest: Callable[[], bool]
) -> Iterator[tuple[PathKey, str, bool]]:
    for key, needs in error.validator_value.items():
        lacking = [
            k for k in needs if isinstance(error.instance, dict) and key in error.instance and k not in error.instance
        ]
        if lacking:
            yield path, f"`{key}` needs `{lacking[0]}` as well", False


def _no_alternative(
    error: ValidationError, path: PathKey, prefix: PathKey, _suggest: Callable[[], bool]
) -> Iterator[tuple[PathKey, str, bool]]:
    yield from _alternatives(error, path, prefix)


_DESCRIBERS: dict[str, _Describer] = {
    "additionalProperties": _unknown_keys,
    "required": _missing_keys,
    "not": _negated,
    "type": _mistyped,
    "enum": _not_allowed,
    "minLength": _too_short,
    "minimum": _out_of_bounds,
    "maximum": _out_of_bounds,
    "pattern": _misshapen,
    "dependentRequired": _lacking_companions,
    "anyOf": _no_alternative,
    "oneOf": _no_alternative,
}


def _quote_hint(doc: Document, path: PathKey, error: ValidationError) -> str:
    """For a number or boolean where a string is due: how to keep it as written (``1.10`` reads as 1.1)."""
    expected = error.validator_value
    wanted = [expected] if isinstance(expected, str) else list(expected)
    value = error.instance
    if "string" not in wanted or not isinstance(value, int | float) or _is_secret(path):
        return ""
    written = doc.written(path) or json.dumps(value)
    kind = "a boolean" if isinstance(value, bool) else "a number"
    return f'; YAML reads `{written}` as {kind}: write it in quotes (`"{written}"`) to keep it as written'


def _unknown_field(key: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    hint = f"; did you mean `{close[0]}`?" if close else ""
    length = f" (a key of {len(key):,} characters)" if shown_key(key) != key else ""
    return f"unknown field `{shown_key(key)}`{length}{hint}"


def _enum_hint(value: Any, allowed: list[str]) -> str:
    """``; did you mean `MAX`?`` for a value in the wrong case or with a small typo."""
    if not isinstance(value, str):
        return ""
    same = [v for v in allowed if v.casefold() == value.casefold()]
    close = same or difflib.get_close_matches(value.upper(), allowed, n=1, cutoff=0.75)
    return f"; did you mean `{close[0]}`?" if close else ""


def _refused_message(path: PathKey) -> str:
    key = path[-1] if path else "?"
    if key == "after_action_id":
        return (
            "`after_action_id` is not accepted in a file: an action's place comes from the file's order, "
            "or from `after: NAME` for a new action; remove it"
        )
    return f"`{key}` is read-only (set by Buddy); remove it"


def _type_message(path: PathKey, expected: str | list[str], instance: Any, schema: Any = None) -> str:
    wanted = [expected] if isinstance(expected, str) else list(expected)
    names = [t for t in wanted if t != "null"]
    expected_text = " or ".join(names) + (" or null" if "null" in wanted else "")
    field = f"`{path[-1]}`" if path and isinstance(path[-1], str) else "this value"
    if instance is None:
        if isinstance(schema, dict) and "default" in schema:
            default = json.dumps(schema["default"])
            default = default.strip('"') if isinstance(schema["default"], str) else default
            return (
                f"{field} must not be null: Buddy sets {default} when it is unset, so a null would be sent on "
                f"every apply and never hold; write `{path[-1]}: {default}` or leave the field out"
            )
        return f"{field} must not be null: expected {expected_text}"
    got = _JSON_TYPES.get(type(instance), type(instance).__name__)
    if _is_secret(path) or isinstance(instance, dict | list):
        return f"expected {expected_text}, got {got}"
    shown = f"expected {expected_text}, got {got} ({_shown(path, instance, quote=False)})"
    if "integer" in names and isinstance(instance, float) and instance.is_integer():
        return f"{shown}; write it without a fraction: `{int(instance)}`"
    return shown


def _empty_message(path: PathKey) -> str:
    # The same words as the rule in rules.py, so that the two reports of one empty `after` collapse.
    if path and path[-1] == "after":
        return "`after` must name an action (it is empty)"
    if len(path) >= 2 and path[-2] == "previous_names":
        return "a previous name must not be empty"
    field = f"`{path[-1]}`" if path and isinstance(path[-1], str) else "this value"
    return f"{field} must not be empty"


def _alternatives(error: ValidationError, path: PathKey, prefix: PathKey) -> Iterator[tuple[PathKey, str, bool]]:
    subs = list(error.context or [])
    if subs and all(e.validator == "required" for e in subs):
        keys = [k for e in subs for k in e.validator_value]
        if set(keys) == {"name", "id"} and len(path) == 2 and path[0] == "pipelines":
            # The same words as the rule in rules.py, so that the two reports collapse into one.
            yield path, "a pipeline needs a `name` (or the `id` of a live pipeline)", False
        else:
            others = " or ".join(f"`{k}`" for k in keys[1:])
            yield path, f"missing required field `{keys[0]}` (or {others})", False
        return
    best = best_match(subs) if subs else None
    if best is None:
        yield path, error.message if not _is_secret(path) else "invalid value", False
        return
    yield from _describe(best, prefix)


def _is_secret(path: PathKey) -> bool:
    """Whether the value at ``path`` may be a secret, and so must never appear in a message."""
    keys = [part for part in path if isinstance(part, str)]
    if not keys:
        return False
    return keys[-1] == "password" or (keys[-1] == "value" and any(k in _SECRET_LISTS for k in keys[:-1]))


def _shown(path: PathKey, value: Any, *, quote: bool = True) -> str:
    """``value`` as a message may show it: short, and never from a field that may hold a secret."""
    if _is_secret(path):
        return "this value"
    # Quoted in backticks a string is shown bare (`MAXX`); in parentheses it is shown as JSON ("x").
    text = value if quote and isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"`{text}`" if quote else text
