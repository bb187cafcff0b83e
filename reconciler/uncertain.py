"""The looks after a create whose outcome is unknown: for how long, and what the report then says.

A server may commit a POST after the client gave up on it (the API has no idempotency key). The run
keeps looking for the object until ``WINDOW_FACTOR`` times the request timeout has passed since the
POST was sent, so that a late commit is found rather than created again by the next apply; the
``Looks`` delays come first (backoff), then looks spread over the rest of the window. When the object
is still unseen, the message says until when (a clock time) another apply could duplicate it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from reconciler.errors import ApiError, UncertainCreate
from reconciler.plan.options import Looks

#: how long after the POST was sent a late commit is looked for, in request timeouts
WINDOW_FACTOR = 2.0
#: at most this many looks spread over the rest of the window, once the backoff delays are spent
SPREAD_LOOKS = 5


def window(timeout: float) -> float:
    """The seconds after a POST was sent during which a late commit is looked for."""
    return WINDOW_FACTOR * timeout


def delays(
    backoff: Sequence[float], sent: float, failed: float, span: float, clock: Callable[[], float]
) -> Iterator[float]:
    """The wait before each look: the backoff delays, then waits until ``span`` seconds after ``sent``
    (the POST went out; ``failed``: it was given up), both read on ``clock``. The time that counts is
    the later of the clock's and the waits' own sum, so that a wait that does not sleep (a test's)
    still ends the looks."""
    waited = 0.0
    for delay in backoff:
        waited += delay
        yield delay
    step = max(span / SPREAD_LOOKS, 0.001)
    while True:
        elapsed = max(clock() - sent, failed - sent + waited)
        left = span - elapsed
        if left <= 0:
            return
        delay = min(left, step)
        waited += delay
        yield delay


def message(reason: str, looks: int, sent_at: float, span: float, last_look: str | None) -> str:
    """The uncertain create's report: the reason, the looks, until when another apply could create
    the object a second time (``sent_at`` is the wall-clock time the POST was sent), and what to do."""
    # never a time already past when the looks ended (a POST that hung longer than the window)
    until = time.strftime("%H:%M:%S UTC", time.gmtime(max(sent_at + span, time.time())))
    looked = f"{looks} look(s) did not find it"
    if last_look is not None:
        looked += f" (the last read failed: {last_look})"
    return (
        f"outcome unknown ({reason}); {looked}. The server may still commit it until about {until}: an apply "
        "started before then could create it a second time. Run `reconcile plan` to see whether it landed "
        "(it plans the create again only if it did not)"
    )


def create_once(
    post: Callable[[], dict[str, Any]],
    find: Callable[[], dict[str, Any] | None],
    *,
    looks: Looks | None = None,
    stop: threading.Event | None = None,
    window: float = 0.0,
) -> dict[str, Any]:
    """POST once. After an unknown outcome, look (``find``) a few times with backoff: the object
    found is the one this POST made (the plan saw none of that name); none found raises
    ``UncertainCreate``. Never a second POST: the API has no idempotency key. The looks go on until
    ``window`` seconds after the POST was sent. A ``stop`` cuts the waits between
    looks short, never the looks."""
    looks = looks or Looks()
    stop = stop or threading.Event()
    sent, sent_at = looks.clock(), time.time()
    try:
        return post()
    except ApiError as exc:
        if not exc.uncertain:
            raise
        first = exc
    wait = looks.sleep or stop.wait
    last_look: str | None = None
    count = 0
    for delay in delays(looks.delays, sent, looks.clock(), window, looks.clock):
        count += 1
        if delay > 0 and not stop.is_set():
            wait(delay)
        try:
            found = find()
        except ApiError as exc:
            last_look = exc.message
            continue
        if found is not None:
            return found
    raise UncertainCreate(message(first.message, count, sent_at, window, last_look))
