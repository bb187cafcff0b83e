"""Politeness towards the API's rate budget: pacing from its headers, and what a 429 asks for.

Every Buddy answer says how much of the budget is left (``X-Rate-Limit-Remaining``) and when it
comes back (``X-Rate-Limit-Reset``, epoch seconds). ``Pacer`` holds a new request until the reset
when what is left no longer covers the requests in flight and a small reserve (as Buddy's Go SDK
does), so that a well-behaved run meets no 429 at all. While the budget is unknown (before the
first answer, after a 429 was waited out, once its reset has passed) one attempt goes alone and its
answer tells the budget: a run that starts on a nearly spent budget, or a new window smaller than
the parallelism, is not met by a burst of 429s. ``asked_wait`` reads how long a 429 asks us to
wait. The client owns one ``Pacer`` and calls it around every attempt.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime

#: pacing: requests of the API's budget kept unspent beyond those in flight
BUDGET_RESERVE = 2
#: a wait longer than this is announced through ``notice``
ANNOUNCE_AFTER = 2.0


class Budget:
    """What the API says is left of its rate budget, and how many requests are on their way.

    Answers arrive out of order; within one window (one ``X-Rate-Limit-Reset``) the smallest
    ``Remaining`` is the truest. Not thread-safe: ``Pacer`` holds its lock around every method.
    """

    def __init__(self) -> None:
        self.remaining: int | None = None
        self.reset: float | None = None
        self.flying = 0
        #: the last answer carried no (readable) budget: an API that does not tell is not probed
        self.silent = False

    def observe(self, remaining: str | None, reset: str | None) -> None:
        """Take the header values of one answer (absent or malformed ones say nothing)."""
        self.silent = True
        if remaining is None or reset is None:
            return
        try:
            left, at = int(remaining), float(reset)
        except ValueError:
            return
        if not math.isfinite(at):
            return
        self.silent = False
        if self.reset is None or self.remaining is None or at > self.reset:
            self.remaining, self.reset = left, at
        elif at == self.reset:
            self.remaining = min(self.remaining, left)

    def hold(self, now: float) -> float:
        """Seconds to hold a new request (0: send it)."""
        if self.remaining is None or self.reset is None:
            return 0.0
        if self.remaining - self.flying > BUDGET_RESERVE:
            return 0.0
        return max(0.0, self.reset - now)

    def unknown(self, now: float) -> bool:
        """Does the next answer have to tell the budget (none yet, forgotten, or past its reset)?"""
        if self.silent:
            return False
        return self.remaining is None or (self.reset is not None and now >= self.reset)

    def forget(self) -> None:
        """Drop what is known of the budget: the next answer's headers tell it again."""
        self.remaining = None


class Pacer:
    """The client's rate-budget bookkeeping, shared by every thread that sends through it.

    ``depart`` is called before each attempt (it may hold it, announcing a long hold through
    ``notice``, and counts it in flight and in ``sent``); ``land`` after each attempt with the
    answer's headers (or ``None`` when no answer came). ``sleep``, ``clock`` (monotonic) and
    ``wall_clock`` (epoch seconds, the unit of ``X-Rate-Limit-Reset``) make the waits testable.
    A hold longer than ``max_wait`` is not made: the server's 429 will say how long. A set ``stop``
    (Ctrl-C) cuts holds and 429 waits short (then ``sleep`` defaults to ``stop.wait``): ``depart`` and
    ``wait_out`` return False, and that attempt is not sent.
    """

    def __init__(
        self,
        *,
        sleep: Callable[[float], object] | None,
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
        notice: Callable[[str], None] | None,
        max_wait: float,
        stop: threading.Event | None = None,
    ) -> None:
        self._stop = stop or threading.Event()
        self._sleep = sleep or (self._stop.wait if stop is not None else time.sleep)
        self._clock = clock
        self._wall_clock = wall_clock
        self._notice = notice
        self._max_wait = max_wait
        self._lock = threading.Condition(threading.Lock())
        self._waiting = 0  # threads waiting for the answer that tells the budget
        self._budget = Budget()
        self._announced_until = -math.inf
        self.sent: Counter[str] = Counter()  # by method: every attempt, retries included

    @property
    def waiting(self) -> int:
        """Attempts held until an answer in flight tells the budget."""
        return self._waiting

    def depart(self, method: str) -> bool:
        """Hold a new attempt while the budget is down to the reserve (or unknown while another attempt
        is out to learn it), then count it in flight. One lock: two threads cannot both take the last
        request of the budget. False: a stop came during a hold, and the attempt is not to be sent."""
        budget, held_for = self._budget, None
        while True:
            with self._lock:
                now = self._wall_clock()
                while budget.flying and budget.unknown(now):
                    self._waiting += 1
                    self._lock.wait()
                    self._waiting -= 1
                    now = self._wall_clock()
                wait = budget.hold(now)
                # held once already for this reset: it has passed for us; the server decides now
                if wait <= 0 or wait > self._max_wait or budget.reset == held_for:
                    if held_for is not None and self._stop.is_set():
                        return False
                    budget.flying += 1
                    self.sent[method] += 1
                    return True
                held_for = budget.reset
            # every attempt that arrives before the reset holds too; after it, the first answer
            # tells the new window's budget
            self.announce(wait, f"rate limit nearly reached: waiting {math.ceil(wait)} s for the API's budget to reset")
            self._sleep(wait)

    def land(self, headers: Mapping[str, str] | None) -> None:
        """One attempt is no longer in flight; ``headers`` of its answer, if one came, tell the budget."""
        remaining = reset = None
        if headers is not None:
            remaining, reset = headers.get("X-Rate-Limit-Remaining"), headers.get("X-Rate-Limit-Reset")
        with self._lock:
            self._budget.flying -= 1
            if headers is not None:
                self._budget.observe(remaining, reset)
            if self._waiting:
                self._lock.notify_all()

    def wait_out(self, wait: float, text: str) -> bool:
        """Wait as a 429 asked (announcing ``text`` when long); after it, the next answer tells the
        budget. False: a stop came before or during the wait, and the request is not to be sent again."""
        if self._stop.is_set():
            return False
        self.announce(wait, text)
        self._sleep(wait)
        self.forget()
        return not self._stop.is_set()

    def forget(self) -> None:
        """After a 429 waited out as asked: the next answer tells the budget."""
        with self._lock:
            self._budget.forget()

    def announce(self, wait: float, text: str) -> None:
        """Say once (not once per thread) that requests are held for a while."""
        if wait <= ANNOUNCE_AFTER or self._notice is None:
            return
        until = self._clock() + wait
        with self._lock:
            if until <= self._announced_until + 1.0:
                return
            self._announced_until = until
        self._notice(text)


def asked_wait(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds the server asks us to wait: ``Retry-After`` (seconds or an HTTP date), else
    ``X-Rate-Limit-Reset`` (epoch seconds; a small number is taken as seconds from now)."""
    retry_after = headers.get("Retry-After")
    if retry_after:
        try:
            return _finite(float(retry_after))
        except ValueError:
            try:
                return _finite(parsedate_to_datetime(retry_after).timestamp() - now)
            except (TypeError, ValueError, OverflowError):
                pass
    reset = headers.get("X-Rate-Limit-Reset")
    if reset:
        try:
            value = float(reset)
        except ValueError:
            return None
        return _finite(value - now if value > 1e9 else value)
    return None


def _finite(value: float) -> float | None:
    return max(0.0, value) if math.isfinite(value) else None
