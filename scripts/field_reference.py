#!/usr/bin/env python3
"""Write the README's field reference tables from the JSON Schemas in schemas/.

Each table lives between two marker comments in the README, ``<!-- NAME:start -->`` and
``<!-- NAME:end -->``; this script rewrites what is between them and leaves the rest alone:

* ``field-reference``: every field of the action (``schemas/action.schema.json``), nested fields
  included (``secrets[].id``, ``integration.identifier``, …), then the fields a file may not hold;
* ``action-keys``: the keys of our own that a config file adds to an action (``after``, …);
* ``pipeline-reference``: the pipeline's keys (``schemas/config.schema.json``).

usage: python scripts/field_reference.py [--check] [--readme FILE] [--schemas DIR]

``--check`` changes nothing and exits 1 when the README is stale (for CI and the tests).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

try:
    from reconciler.fields import PIPELINE_KEYS, FieldTable, in_pipeline_summary
except ModuleNotFoundError:  # run from a checkout without an install
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from reconciler.fields import PIPELINE_KEYS, FieldTable, in_pipeline_summary

ROOT = Path(__file__).resolve().parent.parent
HEADER = ("field", "type", "allowed values", "description")

Schema = Mapping[str, Any]


# -- reading a schema ------------------------------------------------------------------------------


def _types(node: Schema) -> list[str]:
    value = node.get("type", [])
    return [value] if isinstance(value, str) else list(value)


def _local_def(node: Schema, defs: Schema) -> Schema | None:
    """The definition a ``$ref`` to ``#/$defs/NAME`` of the same file points at (else None)."""
    ref = node.get("$ref", "")
    if ref.startswith("#/$defs/"):
        return defs.get(ref.removeprefix("#/$defs/"))
    return None


def type_name(node: Schema) -> str:
    """``string``, ``integer``, ``list of strings``, ``object``, … (``null`` is left out: see the note)."""
    types = [t for t in _types(node) if t != "null"]
    if types == ["array"]:
        items = node.get("items", {})
        inner = [t for t in _types(items) if t != "null"] or ["object"]
        return f"list of {inner[0]}s"
    return " or ".join(types) or "object"


def allowed_values(node: Schema) -> str:
    return ", ".join(f"`{value}`" for value in node.get("enum", []) if value is not None)


def rows(
    properties: Schema,
    defs: Schema,
    required: Sequence[str] = (),
    prefix: str = "",
    write_only: frozenset[str] = frozenset(),
) -> Iterator[list[str]]:
    """One row per writable field, in schema order, each followed by its nested fields."""
    for name, node in properties.items():
        if node.get("readOnly"):
            continue
        path = f"{prefix}{name}"
        description = node.get("description", "").strip()
        if not description.endswith("."):
            description += "."
        if name in required:
            description = f"**Required.** {description}"
        if "x-default-source" in node:
            shown = json.dumps(node["default"]).strip(chr(34))
            description += f" Buddy's default: `{shown}` ({node['x-default-source']})."
        if path in write_only and "write-only" not in description:
            description += " Write-only: sent to Buddy, never compared."
        yield [f"`{path}`", type_name(node), allowed_values(node), description]
        nested = _local_def(node, defs)
        if nested is None and isinstance(node.get("items"), Mapping):
            nested = _local_def(node["items"], defs)
            path += "[]"
        if nested is not None and "properties" in nested:
            yield from rows(nested["properties"], defs, nested.get("required", ()), f"{path}.", write_only)


def table(body: Iterator[list[str]]) -> list[str]:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    return [line(HEADER), "|---|---|---|---|", *(line(cells) for cells in body)]


# -- the three regions -----------------------------------------------------------------------------


def action_reference(action: Schema, config: Schema) -> list[str]:
    write_only = FieldTable.from_schemas(action, config).write_only  # the schema's `writeOnly` annotations
    lines = table(rows(action["properties"], action.get("$defs", {}), action.get("required", ()), "", write_only))
    nullable = [
        name
        for name, node in action["properties"].items()
        if not node.get("readOnly") and name not in action.get("required", ()) and "null" in _types(node)
    ]
    refused = [name for name, node in action["properties"].items() if node.get("readOnly")]
    lines.append("")
    if len(nullable) == len(action["properties"]) - len(refused) - len(action.get("required", ())):
        lines.append(
            "Every field but `name` and `type` also takes `null`, which means the field must be unset in Buddy."
        )
    else:
        defaulted = [
            f"`{name}` (Buddy sets `{json.dumps(node['default']).strip(chr(34))}`)"
            for name, node in action["properties"].items()
            if "default" in node
        ]
        lines.append(
            "Every other field also takes `null`, which means the field must be unset in Buddy, except `name`, "
            f"`type` and the fields Buddy fills in on create, where a null could never hold: {', '.join(defaulted)}."
        )
    lines.append(
        "Refused in a file, because Buddy sets them or because an action's place comes from the file's "
        "order and `after`: " + ", ".join(f"`{name}`" for name in refused) + "."
    )
    return lines


def action_keys(action: Schema, config: Schema) -> list[str]:
    own = {
        name: node
        for name, node in config["$defs"]["action"]["properties"].items()
        if not str(node.get("$ref", "")).startswith("action.schema.json#")
    }
    return table(rows(own, config["$defs"]))


def pipeline_reference(action: Schema, config: Schema) -> list[str]:
    # `actions[]` is the action table above: not repeated here
    defs = {name: node for name, node in config["$defs"].items() if name not in ("action", "action_defaults")}
    return table(_where_read(rows(config["$defs"]["pipeline"]["properties"], defs)))


def _where_read(body: Iterator[list[str]]) -> Iterator[list[str]]:
    """Each pipeline API field's row says where a plan reads its live value (``fields.in_pipeline_summary``)."""
    for cells in body:
        name = cells[0].strip("`")
        if "." not in name and "[" not in name and name not in PIPELINE_KEYS:
            where = "from the pipeline list" if in_pipeline_summary(name) else "with one GET of the pipeline"
            cells = [*cells[:-1], f"{cells[-1]} Read {where}."]
        yield cells


REGIONS: dict[str, Callable[[Schema, Schema], list[str]]] = {
    "field-reference": action_reference,
    "action-keys": action_keys,
    "pipeline-reference": pipeline_reference,
}


# -- the README ------------------------------------------------------------------------------------


class StaleError(Exception):
    """A marker is missing or out of order."""


def render(readme: str, action: Schema, config: Schema) -> str:
    """``readme`` with every region rewritten from the schemas."""
    for name, build in REGIONS.items():
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        head, found, rest = readme.partition(start)
        if not found or end not in rest:
            raise StaleError(f"the README lacks the markers {start} … {end}")
        _, _, tail = rest.partition(end)
        generated = "\n".join(
            ["<!-- generated by scripts/field_reference.py from the schemas; do not edit -->", *build(action, config)]
        )
        readme = f"{head}{start}\n{generated}\n{end}{tail}"
    return readme


def load_schemas(directory: Path) -> tuple[Schema, Schema]:
    action = json.loads((directory / "action.schema.json").read_text(encoding="utf-8"))
    config = json.loads((directory / "config.schema.json").read_text(encoding="utf-8"))
    return action, config


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Rewrite the README's field reference tables from schemas/.")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if the README is stale")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    parser.add_argument("--schemas", type=Path, default=ROOT / "schemas")
    args = parser.parse_args(argv)
    current = args.readme.read_text(encoding="utf-8")
    try:
        wanted = render(current, *load_schemas(args.schemas))
    except StaleError as exc:
        print(f"{args.readme}: {exc}", file=sys.stderr)
        return 1
    if wanted == current:
        return 0
    if args.check:
        print(f"{args.readme}: the field reference is stale; run scripts/field_reference.py", file=sys.stderr)
        return 1
    args.readme.write_text(wanted, encoding="utf-8")
    print(f"{args.readme}: field reference rewritten", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
