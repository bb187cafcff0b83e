"""Counts of what the sandbox was asked, for tests and benchmarks.

By method, by ``"METHOD /route"`` (the route template), by status (``"dropped"`` for a connection
closed without an answer), by injected fault, and the 429 answers whatever their cause, so that a
benchmark can report the share of requests answered 429. The last requests are kept in a short log.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from typing import Any

LOG_SIZE = 1000


class Stats:
    """Thread-safe request counts; ``to_dict`` is what ``GET /__sandbox/stats`` answers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.total = 0
            self.rate_limited = 0
            self.by_method: Counter[str] = Counter()
            self.by_route: Counter[str] = Counter()
            self.by_status: Counter[str] = Counter()
            self.faults: Counter[str] = Counter()
            self.log: deque[dict[str, Any]] = deque(maxlen=LOG_SIZE)

    def record(self, method: str, path: str, route: str | None, status: int | None, fault: str | None) -> None:
        with self._lock:
            self.total += 1
            self.by_method[method] += 1
            self.by_route[f"{method} {route or '(unmatched)'}"] += 1
            self.by_status[str(status) if status is not None else "dropped"] += 1
            if status == 429:
                self.rate_limited += 1
            if fault:
                self.faults[fault] += 1
            self.log.append({"method": method, "path": path, "status": status, "fault": fault})

    def to_dict(self, *, with_log: bool = False) -> dict[str, Any]:
        """``{"total", "rate_limited", "by_method", "by_route", "by_status", "faults"}`` (and ``log``)."""
        with self._lock:
            out: dict[str, Any] = {
                "total": self.total,
                "rate_limited": self.rate_limited,
                "by_method": dict(self.by_method),
                "by_route": dict(self.by_route),
                "by_status": dict(self.by_status),
                "faults": dict(self.faults),
            }
            if with_log:
                out["log"] = list(self.log)
            return out
