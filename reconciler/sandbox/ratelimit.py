"""The request budget: a fixed window of ``limit`` requests per ``window_s`` seconds.

Every answer of the Buddy API carries ``X-Rate-Limit-Limit``, ``X-Rate-Limit-Remaining`` and
``X-Rate-Limit-Reset`` (Unix epoch seconds, rounded up) from here; a spent budget is a 429 with
``Retry-After``. Buddy's Go SDK paces itself from these headers, so they must stay consistent: the
remaining count falls by one per request and is back at ``limit`` after the reset.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

DEFAULT_LIMIT = 1_000_000
DEFAULT_WINDOW_S = 3600.0


class RateLimiter:
    """A fixed-window request budget; ``take`` spends one request of it."""

    def __init__(
        self,
        limit: int = DEFAULT_LIMIT,
        window_s: float = DEFAULT_WINDOW_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self.configure(limit, window_s)

    def configure(self, limit: int, window_s: float) -> None:
        """A budget of ``limit`` requests per ``window_s`` seconds, its first window starting now."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError("the rate limit needs an integer limit >= 1")
        if not math.isfinite(window_s) or window_s <= 0:
            raise ValueError("the rate limit needs a window_s > 0 (seconds)")
        with self._lock:
            self.limit = limit
            self.window_s = float(window_s)
            self._used = 0
            self._reset_at = self._clock() + self.window_s

    def _roll(self, now: float) -> None:
        if now >= self._reset_at:
            self._used = 0
            self._reset_at = now + self.window_s

    def take(self) -> tuple[bool, dict[str, str], float]:
        """Spend one request: (allowed, headers, seconds until the window resets)."""
        with self._lock:
            now = self._clock()
            self._roll(now)
            allowed = self._used < self.limit
            if allowed:
                self._used += 1
            return allowed, self._headers(), self._reset_at - now

    def peek(self) -> dict[str, str]:
        """The headers as they stand, spending nothing (control answers, injected faults)."""
        with self._lock:
            self._roll(self._clock())
            return self._headers()

    def exhausted_headers(self, retry_after: float) -> dict[str, str]:
        """Headers of a 429 that asks for ``retry_after`` seconds (an injected storm): nothing left,
        and the reset no earlier than the wait asked for."""
        with self._lock:
            now = self._clock()
            self._roll(now)
            headers = self._headers()
        headers["X-Rate-Limit-Remaining"] = "0"
        headers["X-Rate-Limit-Reset"] = str(math.ceil(now + retry_after))
        headers["Retry-After"] = str(math.ceil(retry_after))
        return headers

    def _headers(self) -> dict[str, str]:
        return {
            "X-Rate-Limit-Limit": str(self.limit),
            "X-Rate-Limit-Remaining": str(max(0, self.limit - self._used)),
            "X-Rate-Limit-Reset": str(math.ceil(self._reset_at)),
        }
