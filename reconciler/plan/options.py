"""The plan's options: what the command line says about one plan (read by diff, engine and apply).

``diff`` re-exports ``Options`` for the modules that import it from there today.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from reconciler.plan.plan import Limits


@dataclass(frozen=True)
class Options:
    """What the command line says about this plan."""

    prune: bool = False
    update_secrets: bool = False
    sandbox: bool = False
    env: Mapping[str, str] = field(default_factory=dict)
    #: live multi-arch actions sharing a declared name: keep the first, delete the others
    dedupe: bool = False
    #: the safety check's thresholds (``--max-delete-percent``, ``--max-update-percent``)
    limits: Limits = field(default_factory=Limits)
