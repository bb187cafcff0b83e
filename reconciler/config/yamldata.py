"""A composed YAML node tree → plain Python data that remembers where every value came from.

The loader (``loader``) parses; this module builds: every mapping key, mapping value and list item keeps
the file, line and column it was written at, and the constructions PyYAML's safe loader allows but a
config must not hold (duplicate keys, non-string keys, unknown tags, infinite numbers, alias bombs)
become located problems instead of values.
"""

from __future__ import annotations

import math
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.located import PathKey, drop_locations, move_locations
from reconciler.problems import Location, Problem, json_path

#: How many nodes aliases may expand to in one file, beyond one per character of the file. A
#: legitimate config reuses a few blocks (shared credentials, build args, ``<<: *defaults`` on every
#: action), which costs at most a few nodes per line; a "billion laughs" file of a few hundred bytes
#: asks for millions. Counting expanded nodes, not aliases, and allowing only as many as the file is
#: long (plus this margin) keeps both the memory and the time a file can cost linear in its size.
MAX_ALIAS_EXPANSION = 10_000

STR_TAG = "tag:yaml.org,2002:str"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_BOOL_TAG = "tag:yaml.org,2002:bool"
NULL_TAG = "tag:yaml.org,2002:null"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"

_new = object.__new__


def _at(file: str, line: int, col: int) -> Location:
    """``Location(file, line, col)`` made in half the time: a frozen dataclass's ``__init__`` sets each
    field through ``object.__setattr__``, and the builder makes one per key and per value (300,000 for
    10,000 actions). The instance is the same in every respect (equality, order, hash, repr)."""
    location = _new(Location)
    fields = location.__dict__
    fields["file"] = file
    fields["line"] = line
    fields["col"] = col
    return location


# PyYAML's own scalar constructors know YAML 1.1's spellings (0x1F, 1_000, .inf, yes/no, ...); we reuse
# them for everything but the common cases, which have fast paths below.
_SCALARS = yaml.constructor.SafeConstructor()


def error(file: str, line: int, col: int, path: PathKey, message: str) -> Problem:
    return Problem(Location(file, line, col), json_path(path), message, "error")


def location(file: str, node: Node) -> Location:
    return Location(file, node.start_mark.line + 1, node.start_mark.column + 1)


def error_at(file: str, node: Node, path: PathKey, message: str) -> Problem:
    """An error located where ``node`` starts."""
    return Problem(location(file, node), json_path(path), message, "error")


# ---------------------------------------------------------------------------------------------------
# Node tree → plain data


class _AliasBomb(Exception):
    """Raised inside the builder to stop at once; turned into a problem by ``build``."""

    def __init__(self, node: Node, message: str) -> None:
        super().__init__(message)
        self.node = node
        self.message = message


class Builder:
    """Builds plain data from a composed node tree, recording a location for every path."""

    def __init__(self, file: str, *, expansion_limit: int = MAX_ALIAS_EXPANSION) -> None:
        self.file = file
        self._limit = expansion_limit
        self.locations: dict[PathKey, Location] = {}
        self.key_locations: dict[PathKey, Location] = {}
        self.problems: list[Problem] = []
        self._done: set[int] = set()  # ids of collection nodes built once: a second visit is an alias
        self._active: set[int] = set()  # ids of collection nodes being built: a revisit is a cycle
        self._alias_depth = 0
        self._expanded = 0

    def build(self, root: Node) -> Any:
        try:
            return self._node(root, ())
        except _AliasBomb as bomb:
            self.problems.append(error_at(self.file, bomb.node, (), bomb.message))
            return None
        except RecursionError:
            self.problems.append(error(self.file, 1, 1, (), "the file nests too deeply to be read"))
            return None

    def _loc(self, node: Node) -> Location:
        mark = node.start_mark
        return _at(self.file, mark.line + 1, mark.column + 1)

    def _node(self, node: Node, path: PathKey) -> Any:
        self.locations[path] = self._loc(node)
        if isinstance(node, ScalarNode):
            if self._alias_depth:
                self._count(node)
            return self._scalar(node, path)
        ident = id(node)
        if ident in self._active:
            raise _AliasBomb(node, "an alias refers to a node that contains it (a recursive structure)")
        alias = ident in self._done
        if alias:
            self._alias_depth += 1
        if self._alias_depth:
            self._count(node)
        self._active.add(ident)
        try:
            if isinstance(node, MappingNode):
                value: Any = self._mapping(node, path)
            else:
                value = self._sequence(node, path)
        finally:
            self._active.discard(ident)
            if alias:
                self._alias_depth -= 1
        self._done.add(ident)
        return value

    def _count(self, node: Node) -> None:
        self._expanded += 1
        if self._expanded > self._limit:
            raise _AliasBomb(
                node,
                f"aliases expand to more than {self._limit:,} nodes; refusing the file "
                "(an alias bomb such as 'billion laughs'?)",
            )

    def _sequence(self, node: Node, path: PathKey) -> list[Any]:
        if node.tag != _SEQ_TAG:
            self._unsupported_tag(node, path)
        return [self._node(item, (*path, i)) for i, item in enumerate(node.value)]

    def _mapping(self, node: Node, path: PathKey) -> dict[str, Any]:
        if node.tag != _MAP_TAG:
            self._unsupported_tag(node, path)
        out: dict[str, Any] = {}
        merged: list[Node] = []
        file = self.file
        locations = self.locations
        key_locations = self.key_locations
        # The loop below is the hot path of loading (one pass per key of every mapping): plain string
        # keys with plain string values are handled inline, everything else goes through the methods.
        for key_node, value_node in node.value:
            key_tag = key_node.tag
            if key_tag == STR_TAG and key_node.__class__ is ScalarNode:
                key = key_node.value
            elif key_tag == _MERGE_TAG:
                merged.append(value_node)
                continue
            else:
                key = self._key(key_node, path)
                if key is None:
                    continue
            child = (*path, key)
            mark = key_node.start_mark
            if key in out:
                first = key_locations[child]
                message = f"duplicate key `{key}` (first given at line {first.line})"
                self.problems.append(error_at(file, key_node, child, message))
                continue
            key_locations[child] = _at(file, mark.line + 1, mark.column + 1)
            if value_node.tag == STR_TAG and value_node.__class__ is ScalarNode and not self._alias_depth:
                mark = value_node.start_mark
                locations[child] = _at(file, mark.line + 1, mark.column + 1)
                out[key] = value_node.value
            else:
                out[key] = self._node(value_node, child)
        if merged:
            self._merge(out, merged, path)
        return out

    def _merge(self, out: dict[str, Any], sources: list[Node], path: PathKey) -> None:
        """YAML merge keys (``<<: *defaults``): keys given explicitly win, then earlier sources."""
        flat: list[Node] = []
        for source in sources:
            if isinstance(source, SequenceNode):
                flat.extend(source.value)
            else:
                flat.append(source)
        for source in flat:
            if not isinstance(source, MappingNode):
                message = "a merge key (`<<`) needs a mapping or a list of mappings"
                self.problems.append(error_at(self.file, source, path, message))
                continue
            # Build the source under a scratch path, then keep only the keys not given explicitly;
            # the merged values keep the locations where they were written.
            self._alias_depth += 1
            try:
                scratch = self._node(source, (*path, "<<"))
            finally:
                self._alias_depth -= 1
            for key, value in scratch.items():
                if key in out:
                    continue
                out[key] = value
                move_locations(value, (*path, "<<", key), (*path, key), (self.locations, self.key_locations))
            for key, value in scratch.items():
                drop_locations(value, (*path, "<<", key), (self.locations, self.key_locations))
            self.locations.pop((*path, "<<"), None)

    def _key(self, node: Node, path: PathKey) -> str | None:
        if isinstance(node, ScalarNode) and node.tag == STR_TAG:
            return node.value
        loc = self._loc(node)
        if isinstance(node, ScalarNode):
            kind = {
                _BOOL_TAG: "a boolean",
                _INT_TAG: "a number",
                _FLOAT_TAG: "a number",
                NULL_TAG: "null",
                _TIMESTAMP_TAG: "a date",
            }.get(node.tag, "not a string")
            message = (
                f"mapping keys must be strings: `{node.value}` is read as {kind}; put it in quotes if a string is meant"
            )
        else:
            message = "mapping keys must be strings, not a list or a mapping"
        self.problems.append(Problem(loc, json_path(path), message, "error"))
        return None

    def _unsupported_tag(self, node: Node, path: PathKey) -> None:
        self.problems.append(
            Problem(
                self._loc(node),
                json_path(path),
                f"unsupported YAML tag `{node.tag}`: config files use plain YAML only",
                "error",
            )
        )

    def _scalar(self, node: ScalarNode, path: PathKey) -> Any:
        tag = node.tag
        value: str = node.value
        if tag == STR_TAG:
            return value
        if tag == NULL_TAG:
            return None
        if tag == _BOOL_TAG:
            return _SCALARS.construct_yaml_bool(node)
        if tag == _INT_TAG:
            if value.isdigit():
                return int(value)
            return _SCALARS.construct_yaml_int(node)
        if tag == _FLOAT_TAG:
            number = _SCALARS.construct_yaml_float(node)
            if math.isinf(number) or math.isnan(number):
                # JSON has no such numbers; no field of the API wants one either.
                self.problems.append(
                    Problem(
                        self._loc(node),
                        json_path(path),
                        f"`{value}` is not a finite number; put it in quotes if a string is meant",
                        "error",
                    )
                )
            return number
        if tag == _TIMESTAMP_TAG:
            # An unquoted date is almost always meant as text (a tag, a version); JSON has no dates.
            return value
        self._unsupported_tag(node, path)
        return value
