"""Import under a defaults file: what the written actions would inherit, and the keys they must say.

A defaults file (``config.defaults``) in the output directory, or in a directory above it that a plan
reads, gives its values to every action that lacks them. An imported action lacks every key whose
live value is unset or Buddy's default, so without care it would inherit values it does not have, and
the plan right after import would update it. ``reaching`` finds the defaults that reach a file about
to be written, merged as the loader merges them; ``override`` gives an action, for each inherited key
whose effective value differs from live, the live value (Buddy's default where it states one, else an
explicit ``null``), and says which keys it overrode.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler import envrefs, fields
from reconciler.config import files
from reconciler.config.defaults import NOT_DEFAULTED, is_defaults_file
from reconciler.config.loader import load_file
from reconciler.plan.diff import field_differs


@dataclass
class Inherited:
    """The merged defaults that reach one file: each key's value and the file it came from."""

    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)


def _folders(path: Path, output: Path, top: Path) -> list[Path]:
    """The folders whose defaults files reach ``path`` when a plan reads ``output`` from ``top`` (the
    current directory), outermost first: from ``top`` when ``output`` lies in it, else from ``output``."""
    here = Path(os.path.realpath(path.parent))
    out, top = Path(os.path.realpath(output)), Path(os.path.realpath(top))
    stop = top if out == top or top in out.parents else out
    chain = [here]
    while chain[-1] != stop and chain[-1] != chain[-1].parent:
        chain.append(chain[-1].parent)
    return list(reversed(chain))


def _merge(base: dict[str, Any], block: Mapping[str, Any]) -> dict[str, Any]:
    """``block`` over ``base``, as an inner level goes over an outer one: mappings merge key by key,
    everything else is replaced."""
    out = dict(base)
    for key, value in block.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def shown_path(file: Path) -> str:
    """``file`` as the user would name it: relative to the current directory when it lies in it."""
    try:
        relative = os.path.relpath(file)
    except ValueError:  # another drive (Windows)
        return str(file)
    return str(file.resolve()) if relative.startswith("..") else relative


def reaching(path: Path, output: Path, top: Path | None = None) -> Inherited:
    """The defaults that files under ``output`` reach the config file ``path`` with (``top``: the
    folder a plan is run from, the current directory by default). Unreadable files are passed over:
    the plan reports them."""
    found = Inherited()
    for folder in _folders(path, output, top or Path.cwd()):
        for file in files.yaml_files_in(folder):
            if file.resolve() == path.resolve():
                continue  # the file about to be written is replaced, whatever it holds now
            documents = load_file(file, named=False).documents
            if len(documents) != 1 or not is_defaults_file(documents[0]):
                continue
            block = documents[0].data["defaults"]
            if not isinstance(block, Mapping):
                continue
            block = {k: v for k, v in block.items() if k not in NOT_DEFAULTED}
            found.values = _merge(found.values, block)
            found.sources.update(dict.fromkeys(block, shown_path(file)))
    return found


def _as_compared(name: str, value: Any) -> Any:
    """A written value as the plan compares it: write-only parts left out, references resolved to
    sandbox placeholders (which no live value equals), ``$${env:`` unescaped."""
    return envrefs.resolve(fields.strip_write_only(name, value), {}, sandbox=True)


def _unset(name: str) -> Any:
    """What an action writes for a field it holds no value of: Buddy's default where it states one
    (a ``null`` there is refused), else ``null``."""
    return fields.server_default(name)


def override(action: dict[str, Any], live: Mapping[str, Any], inherited: Inherited) -> list[str]:
    """Give ``action`` (as written) every key of ``inherited`` whose effective value would differ from
    the ``live`` action's, set to what live holds; returns the keys it set. Inside a mapping both give,
    only the inner keys the action lacks are set (to ``null``)."""
    overridden: list[str] = []
    for key, value in inherited.values.items():
        if not fields.is_compared(key):
            continue  # the name and type are always written; write-only values are never compared
        mine = action.get(key)
        if key in action and not (isinstance(mine, Mapping) and isinstance(value, Mapping)):
            continue  # the action's own value replaces the default
        effective = _merge(dict(value), mine) if isinstance(mine, Mapping) else value
        if not field_differs(key, _as_compared(key, effective), live.get(key)):
            continue
        if isinstance(mine, Mapping):
            action[key] = {**mine, **dict.fromkeys((k for k in value if k not in mine), None)}
        else:
            action[key] = _unset(key)
        overridden.append(key)
    return overridden
