"""Reading Buddy's reference pages: the fields a section lists, as ``Param`` rows."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# The pages list fields as `name` + optional `required`/`read-only` + type (+ `[]`) + optional ` enum`,
# glued together ("namerequiredstring", "trigger_conditionsTriggerConditionView[]"); the 2024 page puts
# a space before the type and may end a line with "BETA". Names are lower case and object types start
# with a capital, so the shortest name that leaves a known type suffix is the right split.
_HEADER = re.compile(
    r"^(?P<name>[a-z][a-z0-9_]*?)(?P<flag>required|read-only)? ?"
    r"(?P<type>string|integer|boolean|number|[A-Z][A-Za-z0-9]*)(?P<array>\[\])?(?P<enum> enum)?(?:BETA)?$"
)
_ENUM_VALUE = re.compile(r"^[A-Z0-9_/.-]+,?$")


@dataclass
class Param:
    """One field as a reference page lists it."""

    name: str
    type: str  # "string", "integer", "boolean", "number" or an object type name ("PermissionsView")
    array: bool = False
    required: bool = False
    read_only: bool = False
    enum: list[str] = field(default_factory=list)
    description: str = ""


class PageError(Exception):
    """The page does not read as expected: better to stop than to write a wrong schema."""


def parse_section(text: str, start: str, stops: tuple[str, ...]) -> list[Param]:
    """The fields listed between the line ``start`` and the first line in ``stops``, in page order."""
    lines = [line.strip() for line in text.splitlines()]
    try:
        begin = lines.index(start) + 1
    except ValueError:
        raise PageError(f"no {start!r} section") from None
    params: list[Param] = []
    i = begin
    while i < len(lines) and not lines[i].startswith(stops):
        line = lines[i]
        i += 1
        match = _HEADER.match(line)
        if match is None:
            if line and not params:
                raise PageError(f"expected a field after {start!r}, found {line!r}")
            if line and params:
                params[-1].description = " ".join(filter(None, [params[-1].description, line]))
            continue
        param = Param(
            name=match["name"],
            type=match["type"],
            array=bool(match["array"]),
            required=match["flag"] == "required",
            read_only=match["flag"] == "read-only",
        )
        params.append(param)
        if match["enum"] or lines[i : i + 2][-1:] == ["Allowed enum:"]:
            # a description line, then "Allowed enum:", then one value a line, each but the last with a comma
            if i < len(lines) and lines[i] != "Allowed enum:":
                param.description = lines[i]
                i += 1
            if i >= len(lines) or lines[i] != "Allowed enum:":
                raise PageError(f"{param.name}: an enum without 'Allowed enum:'")
            i += 1
            while i < len(lines) and _ENUM_VALUE.match(lines[i]):
                value = lines[i]
                i += 1
                param.enum.append(value.rstrip(","))
                if not value.endswith(","):
                    break
            if not param.enum:
                raise PageError(f"{param.name}: no enum values")
    if not params:
        raise PageError(f"the {start!r} section lists no fields")
    return params


def parse_page(text: str) -> tuple[list[Param], list[Param]]:
    """(POST parameters, response fields) of a reference page; the second is empty when the page has
    no response section (the 2024 page shows an example instead)."""
    stops = ("Response", "RESPONSE BODY", "Last modified", "Example:", "Request example")
    post = parse_section(text, "POST PARAMETERS", stops)
    response: list[Param] = []
    if "RESPONSE BODY" in (line.strip() for line in text.splitlines()):
        response = parse_section(text, "RESPONSE BODY", stops[2:])
    return post, response


# ---------------------------------------------------------------------------------------------------
# Building the schemas
