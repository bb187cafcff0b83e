"""The options of one run, passed whole: the plan's (``Options``: what the command line says about
the plan; read by diff, engine and apply) and the apply's (``ApplyOptions``: force and the hooks a
caller gives apply, namely progress, approval, stop and the looks after an uncertain create).

``diff`` re-exports ``Options`` and ``apply`` re-exports ``Looks`` and ``Progress`` for the modules
that import them from there.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from reconciler.envrefs import Environment
from reconciler.plan.plan import Change, Limits, Plan

if TYPE_CHECKING:  # the outcome is apply's value; a progress only receives it
    from reconciler.apply import Outcome

#: seconds to wait before each look for an object whose create had an unknown outcome
LOOK_DELAYS: tuple[float, ...] = (0.0, 1.0, 2.0, 4.0)


@dataclass(frozen=True)
class Options:
    """What the command line says about this plan."""

    prune: bool = False
    update_secrets: bool = False
    #: ``--update-secrets=NAME,…``: only the write-only fields whose values come from these variables
    #: are sent again (empty: every write-only field, with ``update_secrets``)
    secret_names: frozenset[str] = frozenset()
    sandbox: bool = False
    env: Mapping[str, str] = field(default_factory=dict)
    #: live multi-arch actions sharing a declared name: keep the first, delete the others
    dedupe: bool = False
    #: the safety check's thresholds (``--max-delete-percent``, ``--max-update-percent``)
    limits: Limits = field(default_factory=Limits)

    @property
    def environment(self) -> Environment:
        """Where the plan's ``${env:…}`` references resolve: ``env``, and placeholders in the sandbox."""
        return Environment(self.env, self.sandbox)


@dataclass(frozen=True)
class Looks:
    """How apply looks for an object after a create with an unknown outcome: one read after each
    delay of ``delays``; ``sleep`` waits (default: a wait that a stop cuts short)."""

    delays: tuple[float, ...] = LOOK_DELAYS
    sleep: Callable[[float], object] | None = None
    clock: Callable[[], float] = time.monotonic


class Progress(Protocol):
    """Where apply reports as it goes (the CLI draws a bar on a terminal, lines in CI)."""

    def start(self, total: int) -> None: ...

    def begin(self, change: Change) -> None: ...

    def done(self, outcome: Outcome) -> None: ...

    def finish(self) -> None: ...


@dataclass(frozen=True)
class ApplyOptions:
    """How to apply a plan, beyond what the plan says.

    ``force`` passes the safety check (its warnings are kept); ``progress`` hears of every change;
    ``approve`` is called once every check has passed, right before the first write, and only when
    there is something to change: it stops the apply by raising (the CLI's prompt); ``stop`` ends
    the apply early (see ``apply``); ``looks`` tunes the looks after an uncertain create."""

    force: bool = False
    progress: Progress | None = None
    approve: Callable[[Plan], None] | None = None
    stop: threading.Event | None = None
    looks: Looks = field(default_factory=Looks)
