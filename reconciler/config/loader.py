"""YAML files → plain data that remembers where every value came from.

The loader composes a node tree with PyYAML (libyaml's C parser when it is available) and builds plain
Python data from it itself (``yamldata``), so that every mapping key, mapping value and list item keeps
the file, line and column it was written at. Doing the construction there, rather than through a PyYAML
constructor, is also what lets us refuse duplicate keys, non-string keys and alias bombs, none of
which PyYAML's safe loader objects to. This module finds and reads the files, parses them, and tells a
config file from other YAML.

Every failure is reported as a located :class:`~reconciler.problems.Problem`, never raised, so that one
run reports every problem of every file. A file with a load error yields no :class:`Document`: what it
would contain is not what the author wrote, and checking it further would only add noise.

The loaded document is plain data; rewriting it (the 2024 spellings in ``translate``, the defaults in
``defaults``) is the business of the modules that ``config`` runs next.
"""

from __future__ import annotations

import difflib
import gc
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.config import files
from reconciler.config.yamldata import MAX_ALIAS_EXPANSION, NULL_TAG, STR_TAG, Builder, error, error_at, location
from reconciler.errors import LoadError
from reconciler.located import Document
from reconciler.problems import Problem, json_path

try:  # libyaml is several times faster; its marks carry the same line and column as the Python parser's
    from yaml import CSafeLoader as _YamlLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _YamlLoader  # type: ignore[assignment]

#: Top-level keys that make a YAML file a config file in a directory scan.
CONFIG_MARKER_KEYS = frozenset({"workspace", "domain", "project", "pipelines"})
#: The keys whose near misses (another case, a small typo) in a skipped file are worth a warning.
NEAR_MISS_KEYS = ("workspace", "project", "pipelines")


@dataclass
class LoadResult:
    """What reading some paths gave: the config documents in order, every file-level problem, and the
    files a directory scan passed over because they are not config files."""

    documents: list[Document]
    problems: list[Problem]  # errors (unreadable files, YAML errors) and warnings
    skipped: list[str]  # files seen in a directory scan that are not config files
    #: of those, the ones that might have declared pipelines: not readable (a FIFO, a link that leads
    #: nowhere, a directory the scan could not enter) or close to a config (a near-miss key)
    doubtful: list[str] = field(default_factory=list)


def load_paths(paths: list[str | Path]) -> LoadResult:
    """Read every config file that ``paths`` name.

    A directory is scanned recursively for ``*.yml``/``*.yaml`` in sorted order, skipping
    dot-directories; there a YAML file that is not a config file, or a YAML name that is not a regular
    file (a FIFO, a device, a dangling link), is skipped (and listed in ``skipped``). A file named
    directly is always read and must be a regular config file of at most 16 MiB. A path that does not
    exist is an error. Each file is read once even when named twice. Nothing is raised for a bad file:
    every problem lands in ``problems``."""
    result = LoadResult(documents=[], problems=[], skipped=[])
    seen: set[str] = set()
    with collector_paused():
        _load_all(paths, seen, result)
    return result


def _load_all(paths: list[str | Path], seen: set[str], result: LoadResult) -> None:
    for raw in paths:
        path = Path(raw)
        if path.exists():
            _load_enclosing_defaults(path, seen, result)
        if path.is_dir():
            found = files.scan(path)
            for file in found.files:
                _load_once(file, named=False, seen=seen, result=result)
            # A FIFO, a device or a dangling link is never opened: it could block or never end.
            result.skipped.extend(str(file) for file in found.special)
            result.doubtful.extend(str(file) for file in found.special)
        elif path.exists():
            _load_once(path, named=True, seen=seen, result=result)  # refused there unless a regular file
        else:
            result.problems.append(error(str(path), 1, 1, (), files.describe_missing(path)))


def _load_enclosing_defaults(path: Path, seen: set[str], result: LoadResult) -> None:
    """Defaults files of the folders above ``path`` (up to the current directory) reach it even when
    only ``path`` is named: ``validate web/web.yaml`` sees the actions ``validate .`` sees. Any other
    YAML file there is none of our business and is passed over without a word."""
    for folder in files.enclosing_folders(path, Path.cwd()):
        for file in files.yaml_files_in(folder):
            key = os.path.normcase(os.path.abspath(file))
            if key in seen:
                continue
            try:
                raw = files.read_config_bytes(file)
            except LoadError:
                continue
            if b"defaults:" not in raw:
                continue  # cheap: most files are not defaults files and need no parse
            try:
                nodes = _compose_all(raw.decode("utf-8").removeprefix("\ufeff"))
            except (UnicodeDecodeError, yaml.YAMLError):
                continue
            if len(nodes) == 1 and _is_defaults_only(nodes[0]):
                _load_once(file, named=False, seen=seen, result=result)


def load_file(path: str | Path, *, named: bool = True) -> LoadResult:
    """Read one file; with ``named=False`` it is treated as found by a directory scan."""
    result = LoadResult(documents=[], problems=[], skipped=[])
    with collector_paused():
        _load_once(Path(path), named=named, seen=set(), result=result)
    return result


def load_text(source: str | bytes, file: str = "<string>", *, named: bool = True) -> LoadResult:
    """Parse YAML given as text or bytes, as if read from ``file`` (for tests and callers with data)."""
    result = LoadResult(documents=[], problems=[], skipped=[])
    raw = source.encode("utf-8") if isinstance(source, str) else source
    with collector_paused():
        _load_bytes(raw, file, named=named, result=result)
    return result


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while loading.

    Loading creates hundreds of thousands of small objects (nodes, marks, locations, path tuples) and
    no reference cycles worth collecting; left on, the collector's repeated full passes over them cost
    more than the parse itself (about 2-3x on the 10,000-action benchmark). Reference counting still
    frees everything as usual.

    Enabled again, the collector would first walk every object made during the pause (a tenth of
    validate's time at that size): they are handed to the oldest generation instead (``freeze`` then
    ``unfreeze`` moves them there without a walk), where the next full collection sees them as usual."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.freeze()
            gc.unfreeze()
            gc.enable()


# ---------------------------------------------------------------------------------------------------
# Files


def _load_once(path: Path, *, named: bool, seen: set[str], result: LoadResult) -> None:
    key = os.path.normcase(os.path.abspath(path))
    if key in seen:
        return
    seen.add(key)
    try:
        raw = files.read_config_bytes(path)
    except LoadError as exc:
        result.problems.append(Problem(exc.location, "$", exc.reason, "error"))
        return
    _load_bytes(raw, str(path), named=named, result=result)


def _load_bytes(raw: bytes, file: str, *, named: bool, result: LoadResult) -> None:
    text = _decode(raw, file, result)
    if text is None:
        return
    root = _root_node(text, file, named=named, result=result)
    if root is None:
        return
    builder = Builder(file, expansion_limit=MAX_ALIAS_EXPANSION + len(text))
    data = builder.build(root)
    if builder.problems:
        result.problems.extend(builder.problems)
        return
    result.documents.append(
        Document(
            file=file,
            data=data,
            locations=builder.locations,
            key_locations=builder.key_locations,
            sources={file: text},
        )
    )


def _decode(raw: bytes, file: str, result: LoadResult) -> str | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        message = f"the file is not UTF-8: invalid byte 0x{raw[exc.start]:02x} at byte offset {exc.start}"
        result.problems.append(error(file, line, col, (), message))
        return None
    return text[1:] if text.startswith("\ufeff") else text  # a byte-order mark is harmless


def _empty_document(node: Node) -> bool:
    """True for a document that holds nothing (``---`` and no content, or comments only)."""
    return isinstance(node, ScalarNode) and node.tag == NULL_TAG and node.value in ("", "~")


def _root_node(text: str, file: str, *, named: bool, result: LoadResult) -> Node | None:
    """The one document of a config file, or None when there is none (a problem, or a skipped file)."""

    def not_ours(problem: Problem) -> None:
        # A file found by a scan that is not a config file is skipped; a file named is an error.
        if named:
            result.problems.append(problem)
        else:
            result.skipped.append(file)

    if not text.strip():
        not_ours(error(file, 1, 1, (), "the file is empty"))
        return None
    try:
        nodes = _compose_all(text)
    except yaml.MarkedYAMLError as exc:
        # In a directory scan a file we cannot parse might or might not be a config file; we cannot
        # tell, so it is reported rather than silently skipped: a broken config must never vanish.
        result.problems.append(_syntax_problem(file, text, exc))
        return None
    except yaml.YAMLError as exc:  # pragma: no cover - every PyYAML parse error carries a mark
        result.problems.append(error(file, 1, 1, (), f"YAML error: {exc}"))
        return None
    nodes = [node for node in nodes if not _empty_document(node)]  # a stray `---` adds an empty one
    if not nodes:
        not_ours(error(file, 1, 1, (), "the file is empty (it holds only comments)"))
        return None
    if len(nodes) > 1:  # a multi-document stream (Kubernetes manifests, Drone, …) is not ours, unless it looks so
        message = f"a config file holds one YAML document; this one holds {len(nodes)}"
        if not named and any(_plainly_config(node) for node in nodes):  # never skipped: its pipelines are declared
            result.problems.append(error_at(file, nodes[1], (), message))
            return None
        if not named:
            _weigh_skipped(file, nodes, result)
        not_ours(error_at(file, nodes[1], (), message))
        return None
    root = nodes[0]
    if not _looks_like_config(root):
        if not named:
            _weigh_skipped(file, [root], result)
        message = (
            "not a config file: expected a top-level mapping with `workspace`, `project` and "
            f"`pipelines`, found {_describe_node(root)}"
        )
        not_ours(error_at(file, root, (), message))
        return None
    return root


# The first characters with which a plain scalar can be anything but a string (a number, a boolean,
# null, a date, a merge key); the regular expressions of PyYAML's resolver are tried only for those.
_IMPLICIT_FIRST = frozenset(k for k in yaml.resolver.Resolver.yaml_implicit_resolvers if k)


class _Loader(_YamlLoader):  # type: ignore[misc, valid-type]
    """The safe loader with a shortcut for the commonest scalar: text that cannot be read as anything
    else. Tag resolution otherwise runs a Python call with regular expressions for every scalar, which
    is a large share of the parse time of a big file."""

    def resolve(self, kind: type[Node], value: Any, implicit: tuple[bool, bool]) -> str:
        if (
            kind is ScalarNode
            and (not implicit[0] or (value and value[0] not in _IMPLICIT_FIRST))
            and None not in self.yaml_implicit_resolvers  # no wildcard resolver is registered
        ):
            return STR_TAG
        return super().resolve(kind, value, implicit)


def _compose_all(text: str) -> list[Node]:
    loader = _Loader(text)
    try:
        nodes: list[Node] = []
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                nodes.append(node)
        return nodes
    finally:
        loader.dispose()


def _looks_like_config(root: Node) -> bool:
    """A config file names a config key; a defaults file holds ``defaults`` alone (a CI workflow may
    have a top-level ``defaults`` too, beside keys of its own, and is not ours)."""
    if not isinstance(root, MappingNode):
        return False
    keys = [k.value for k, _ in root.value if isinstance(k, ScalarNode)]
    return any(k in CONFIG_MARKER_KEYS for k in keys) or _is_defaults_only(root)


def _is_defaults_only(root: Node) -> bool:
    return isinstance(root, MappingNode) and [k.value for k, _ in root.value if isinstance(k, ScalarNode)] == [
        "defaults"
    ]


def _plainly_config(root: Node) -> bool:
    """A mapping with two or more of a config's keys (``workspace`` or ``domain``, ``project``,
    ``pipelines``): one alone (a Drone step's ``workspace``) says little."""
    return isinstance(root, MappingNode) and len(_keys_of(root).keys() & CONFIG_MARKER_KEYS) >= 2


def _weigh_skipped(file: str, roots: Sequence[Node], result: LoadResult) -> None:
    """Warnings for the documents of a file a scan skips that look meant as a config (near-miss
    keys), and the file ``doubtful`` (it might declare pipelines, so pruning holds back) when some
    group of its keys looks like a config's (``_config_like``). A group is the keys of a document,
    of a mapping one level down (a value, a list item, a merge key or list), of a list's items
    together (``- workspace: …`` / ``- project: …``), and of all the documents together."""
    for root in roots:
        result.problems.extend(_near_misses(file, root))
    groups = [(node, _keys_of(node)) for root in roots for node in (root, *_one_level_down(root))]
    groups.append((roots[0], {key: value for root in roots for key, value in _keys_of(root).items()}))
    meant = next((node for node, keys in groups if _config_like(keys)), None)
    if meant is not None:
        message = "this file is skipped as not a config file, but it holds what looks like a config's keys"
        result.problems.append(Problem(location(file, meant), json_path(()), message, "warning"))
        result.doubtful.append(file)


def _one_level_down(root: Node) -> list[Node]:
    """The mappings and lists one level below ``root``: a mapping's values (a merge key's list's
    items too), a list's items."""
    if isinstance(root, SequenceNode):
        return list(root.value)
    if not isinstance(root, MappingNode):
        return []
    values = [value for _, value in root.value]
    return values + [item for value in values if isinstance(value, SequenceNode) for item in value.value]


def _keys_of(node: Node) -> dict[str, Node]:
    """A mapping's string keys and their values; for a list, those of its mapping items together."""
    items = node.value if isinstance(node, SequenceNode) else [node]
    return {
        k.value: v
        for item in items
        if isinstance(item, MappingNode)
        for k, v in item.value
        if isinstance(k, ScalarNode) and isinstance(k.value, str)
    }


def _config_like(keys: dict[str, Node]) -> bool:
    """Two or more of a config's keys, as written or nearly (another case, a small typo, a plural),
    one of them ``pipelines`` holding a list (or nothing yet): a file without one declares no
    pipeline (Terraform Cloud's ``projects``/``workspaces``, a compose file's ``workspace`` service,
    an action's ``pipeline`` input, a schema's ``pipelines`` property are not configs)."""
    matched = [(_nearest_config_key(key), value) for key, value in keys.items()]
    names = {name for name, _ in matched if name is not None}
    return len(names) >= 2 and any(name == "pipelines" and _list_or_nothing(value) for name, value in matched)


def _list_or_nothing(node: Node) -> bool:
    return isinstance(node, SequenceNode) or (isinstance(node, ScalarNode) and node.tag == NULL_TAG)


def _nearest_config_key(key: str) -> str | None:
    if key in CONFIG_MARKER_KEYS:
        return "workspace" if key == "domain" else key
    close = difflib.get_close_matches(key.lower(), NEAR_MISS_KEYS, n=1, cutoff=0.8)
    return close[0] if close else None


def _near_misses(file: str, root: Node) -> list[Problem]:
    """Warnings for the top-level keys of a skipped file that look like a config file's keys written
    with another case or a small typo (``Workspace``, ``pipeline``): such a file was most likely meant
    as a config, and skipping it silently would manage nothing without a word."""
    if not isinstance(root, MappingNode):
        return []
    found: list[Problem] = []
    for key, _ in root.value:
        if not isinstance(key, ScalarNode) or not isinstance(key.value, str) or key.value in CONFIG_MARKER_KEYS:
            continue  # an exact key is no near miss (a Drone step's `workspace`)
        close = _nearest_config_key(key.value)
        if close is not None:
            message = (
                f"this file is skipped as not a config file, but its key `{key.value}` looks like "
                f"`{close}`; if it is meant as a config file, write `{close}`"
            )
            found.append(Problem(location(file, key), json_path((key.value,)), message, "warning"))
    return found


def _describe_node(node: Node) -> str:
    if isinstance(node, SequenceNode):
        return "a list"
    if isinstance(node, MappingNode):
        return "a mapping with none of these keys"
    if node.tag == NULL_TAG:
        return "null"
    return "a single value"


def _syntax_problem(file: str, text: str, exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else 1
    col = mark.column + 1 if mark else 1
    source_line = text.splitlines()[line - 1] if mark and line - 1 < len(text.splitlines()) else ""
    indent = source_line[: len(source_line) - len(source_line.lstrip(" \t"))]
    if "\t" in indent or source_line[col - 1 : col] == "\t":
        # libyaml's own words ("found character that cannot start any token") do not say it is a tab.
        tab_col = indent.index("\t") + 1 if "\t" in indent else col
        return error(
            file,
            line,
            tab_col,
            (),
            "a tab character is used for indentation; YAML indentation must be spaces",
        )
    problem = exc.problem or "invalid YAML"
    message = f"YAML syntax error: {problem}"
    if exc.context and exc.context_mark is not None and exc.context_mark is not mark:
        message += f" ({exc.context} started at line {exc.context_mark.line + 1})"
    elif exc.context:
        message += f" ({exc.context})"
    return error(file, line, col, (), message)
