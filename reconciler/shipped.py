"""The shipped JSON Schemas, read once: the ground's copy, so that the field table (``fields``) and the
schema check (``config.schema``) read the same files and ``fields`` imports nothing from ``config``."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

SchemaName = Literal["config", "action"]

_FILES: dict[str, str] = {"config": "config.schema.json", "action": "action.schema.json"}
_SOURCE_TREE = Path(__file__).resolve().parents[1] / "schemas"


@cache
def schema_text(name: SchemaName) -> str:
    """The text of ``schemas/<name>.schema.json`` as shipped (for ``reconcile schema``)."""
    file = _FILES[name]  # a KeyError for an unknown name is a caller's bug
    try:
        return resources.files("reconciler.schemas").joinpath(file).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        # A source checkout run without an install: the build's package mapping does not exist yet.
        return (_SOURCE_TREE / file).read_text(encoding="utf-8")


@cache
def load_schema(name: SchemaName) -> dict[str, Any]:
    """The parsed schema ``name``. The same object is returned on every call: do not modify it."""
    return json.loads(schema_text(name))
