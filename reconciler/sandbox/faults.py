"""Injected faults: latency, 5xx, 429 storms, dropped connections, and writes that commit then fail.

A fault is a ``FaultRule``; a request is matched against the rules in order. Rules can be scoped by
method, by route (the template, e.g. ``/pipelines/:pipeline_id/actions``), by count ("the next 3")
and by probability (``rate``); every random draw comes from one ``random.Random(seed)``, so a
sequence of requests meets the same faults on every run.

Kinds:

* ``latency``: sleep ``ms`` plus up to ``jitter_ms`` before answering (adds to the global latency)
* ``error``: answer ``status`` (default 500) without doing anything
* ``rate_limit``: answer 429 with ``Retry-After: retry_after`` without doing anything (a storm)
* ``drop``: close the connection without an answer, without doing anything
* ``commit_then_error``: do the write, then answer ``status`` (default 500) instead of the result
* ``commit_then_drop``: do the write, then close the connection without an answer
* ``late_commit``: hold a write (POST, PATCH, DELETE) ``ms`` milliseconds, then do it and answer: a
  client whose timeout is shorter has given up by then, yet the object exists afterwards (the API
  has no idempotency key, so this is what a slow or overloaded server looks like to a client)
* ``deviant``: answer in one of the ways the contract does not allow, named by ``mode``; see
  ``deviant.py`` for the modes and the requests each applies to
* ``shift``: between two page reads of a list, add an item in front of it (``mode`` ``insert``) or
  remove its first item (``mode`` ``remove``), as a person editing the project would; see ``shift.py``

The ``commit_then_*`` kinds only fire on writes that succeed; a write the server refuses (4xx) is
answered normally and does not use up the rule's count. ``late_commit`` and ``deviant`` rules are
spent when they are chosen for a request that they apply to; a ``shift`` rule when it fires (on a
page after the first).
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.sandbox import deviant, shift

KINDS = frozenset(
    {
        "latency",
        "error",
        "rate_limit",
        "drop",
        "commit_then_error",
        "commit_then_drop",
        "late_commit",
        "deviant",
        "shift",
    }
)
PRE_KINDS = frozenset({"error", "rate_limit", "drop"})
COMMIT_KINDS = frozenset({"commit_then_error", "commit_then_drop"})
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


class ConnectionDropped(Exception):
    """Raised by the app to drop the connection without an answer.

    The real server catches it and closes the socket. In process (``httpx.WSGITransport``) it
    propagates out of the transport to the caller, as it is: the sandbox knows no HTTP client.
    """

    def __init__(self, message: str = "Server disconnected without sending a response.") -> None:
        super().__init__(message)


class FaultConfigError(ValueError):
    """A fault description cannot be used."""


@dataclass
class FaultRule:
    """One fault; see the module docstring for the kinds. ``count`` None means "no limit"."""

    kind: str
    methods: frozenset[str] | None = None
    route: str | None = None
    count: int | None = None
    rate: float = 1.0
    status: int = 500
    retry_after: int = 1
    ms: float = 0.0
    jitter_ms: float = 0.0
    mode: str | None = None
    fired: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise FaultConfigError(f"unknown fault kind {self.kind!r} (one of {', '.join(sorted(KINDS))})")
        if not 0.0 <= self.rate <= 1.0:
            raise FaultConfigError("rate must be between 0 and 1")
        if self.count is not None and self.count < 0:
            raise FaultConfigError("count must not be negative")
        if self.kind in ("error", "commit_then_error") and not 500 <= self.status <= 599:
            raise FaultConfigError("status must be a 5xx code")
        if self.ms < 0 or self.jitter_ms < 0 or self.retry_after < 0:
            raise FaultConfigError("ms, jitter_ms and retry_after must not be negative")
        if self.kind == "late_commit" and self.ms <= 0:
            raise FaultConfigError("late_commit needs ms > 0: how long to hold the write before doing it")
        if self.kind == "deviant" and self.mode not in deviant.MODES:
            raise FaultConfigError(f"deviant needs a mode (one of {', '.join(deviant.MODES)}), not {self.mode!r}")
        if self.kind == "shift" and self.mode not in shift.MODES:
            raise FaultConfigError(f"shift needs a mode (one of {', '.join(shift.MODES)}), not {self.mode!r}")
        if self.kind not in ("deviant", "shift") and self.mode is not None:
            raise FaultConfigError("mode is only for the kinds deviant and shift")

    def matches(self, method: str, route: str) -> bool:
        if self.count is not None and self.count <= 0:
            return False
        if self.methods is not None and method not in self.methods:
            return False
        if self.kind in COMMIT_KINDS | {"late_commit"} and method not in WRITE_METHODS:
            return False
        if self.kind == "deviant" and not deviant.applies(str(self.mode), method, route):
            return False
        if self.kind == "shift" and not shift.applies(method, route):
            return False
        return self.route is None or self.route == route

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultRule:
        """Build a rule from its JSON form (the control endpoint and ``--fault`` use this)."""
        if not isinstance(data, Mapping):
            raise FaultConfigError("a fault rule must be an object")
        known = {"kind", "methods", "route", "count", "rate", "status", "retry_after", "ms", "jitter_ms", "mode"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise FaultConfigError(f"unknown fault rule key {unknown[0]!r}")
        methods = data.get("methods")
        if isinstance(methods, str):
            methods = [methods]
        try:
            return cls(
                kind=str(data.get("kind")),
                methods=frozenset(m.upper() for m in methods) if methods else None,
                route=data.get("route"),
                count=None if data.get("count") is None else int(data["count"]),
                rate=float(data.get("rate", 1.0)),
                status=int(data.get("status", 500)),
                retry_after=int(data.get("retry_after", 1)),
                ms=float(data.get("ms", 0)),
                jitter_ms=float(data.get("jitter_ms", 0)),
                mode=None if data.get("mode") is None else str(data["mode"]),
            )
        except (TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, FaultConfigError):
                raise
            raise FaultConfigError(f"bad fault rule {dict(data)!r}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "count": self.count, "rate": self.rate, "fired": self.fired}
        if self.methods is not None:
            out["methods"] = sorted(self.methods)
        if self.route is not None:
            out["route"] = self.route
        if self.kind in ("error", "commit_then_error"):
            out["status"] = self.status
        if self.kind == "rate_limit":
            out["retry_after"] = self.retry_after
        if self.kind == "latency":
            out["ms"], out["jitter_ms"] = self.ms, self.jitter_ms
        if self.kind in ("late_commit", "deviant"):
            out["ms"] = self.ms
        if self.kind in ("deviant", "shift"):
            out["mode"] = self.mode
        return out


def parse_fault_spec(text: str) -> FaultRule:
    """Parse a ``--fault`` option: JSON (``{"kind": "error", …}``) or the short form
    ``KIND[:key=value,…]`` with methods joined by ``+``, e.g.
    ``error:status=503,rate=0.1,methods=POST+PATCH``, ``rate_limit:count=5,retry_after=2``,
    ``late_commit:ms=2000,count=1`` or ``deviant:mode=html_body,route=/pipelines``."""
    text = text.strip()
    if text.startswith("{"):
        try:
            return FaultRule.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise FaultConfigError(f"--fault {text!r}: not valid JSON: {exc.msg}") from None
    kind, _, rest = text.partition(":")
    data: dict[str, Any] = {"kind": kind.strip()}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, value = part.partition("=")
        if not sep:
            raise FaultConfigError(f"--fault {text!r}: {part!r} is not key=value")
        data[key.strip()] = value.strip().split("+") if key.strip() == "methods" else value.strip()
    return FaultRule.from_dict(data)


@dataclass
class Decision:
    """What the faults say about one request."""

    delay_s: float = 0.0
    pre: FaultRule | None = None  # answer with this fault instead of running the request
    commit: FaultRule | None = None  # run the request, then fail it (if it succeeded)
    hold: FaultRule | None = None  # late_commit: wait this rule's ms, then run the request
    deviant: FaultRule | None = None  # answer the way this rule's mode says
    shift: FaultRule | None = None  # move the list before serving this page (spent only if it fires)


@dataclass
class Faults:
    """The active faults, the seeded random source and the global latency.

    Thread-safe: every decision is made under one lock, so counts are never over-spent.
    """

    rules: list[FaultRule] = field(default_factory=list)
    seed: int | None = None
    latency_ms: float = 0.0
    jitter_ms: float = 0.0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(self.seed)

    def configure(
        self,
        *,
        rules: Iterable[FaultRule] | None = None,
        seed: int | None = None,
        latency_ms: float | None = None,
        jitter_ms: float | None = None,
        reseed: bool = False,
    ) -> None:
        """Replace what is given; ``reseed`` (or a ``seed``) restarts the random sequence."""
        with self._lock:
            if rules is not None:
                self.rules = list(rules)
            if latency_ms is not None:
                self.latency_ms = float(latency_ms)
            if jitter_ms is not None:
                self.jitter_ms = float(jitter_ms)
            if seed is not None:
                self.seed = seed
            if seed is not None or reseed:
                self._rng = random.Random(self.seed)

    def configure_from_json(self, data: Mapping[str, Any]) -> None:
        """Apply the control endpoint's JSON: ``{"seed", "latency_ms", "jitter_ms", "error_rate",
        "error_status", "rules": [...], "append": false}``. Without ``append`` the rules replace the
        current ones; ``error_rate`` is shorthand for one ``error`` rule."""
        if not isinstance(data, Mapping):
            raise FaultConfigError("the faults body must be a JSON object")
        known = {"seed", "latency_ms", "jitter_ms", "error_rate", "error_status", "rules", "append"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise FaultConfigError(f"unknown faults key {unknown[0]!r}")
        raw_rules = data.get("rules", [])
        if not isinstance(raw_rules, list):
            raise FaultConfigError("rules must be a list")
        rules = [FaultRule.from_dict(r) for r in raw_rules]
        if data.get("error_rate"):
            rules.append(FaultRule("error", rate=float(data["error_rate"]), status=int(data.get("error_status", 500))))
        if data.get("append"):
            with self._lock:
                rules = self.rules + rules
        seed = data.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise FaultConfigError("seed must be an integer")
        for key in ("latency_ms", "jitter_ms"):
            value = data.get(key)
            if value is not None and (not isinstance(value, int | float) or value < 0):
                raise FaultConfigError(f"{key} must be a non-negative number")
        self.configure(
            rules=rules,
            seed=seed,
            latency_ms=data.get("latency_ms", 0),
            jitter_ms=data.get("jitter_ms", 0),
        )

    def clear(self) -> None:
        self.configure(rules=[], latency_ms=0, jitter_ms=0)

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "seed": self.seed,
                "latency_ms": self.latency_ms,
                "jitter_ms": self.jitter_ms,
                "rules": [r.to_dict() for r in self.rules],
            }

    # -- decisions ---------------------------------------------------------------------------------

    def decide(self, method: str, route: str) -> Decision:
        """Latency to add, and the fault (if any) that answers instead of the request; a
        ``commit_then_*`` candidate is returned unspent (see ``spend``)."""
        decision = Decision()
        with self._lock:
            if not self.rules and not self.latency_ms and not self.jitter_ms:
                return decision  # the common case: no draw, so the random sequence is untouched
            decision.delay_s = self._latency(self.latency_ms, self.jitter_ms)
            for rule in self.rules:
                if rule.kind != "latency" or not rule.matches(method, route) or not self._draw(rule):
                    continue
                self._spend(rule)
                decision.delay_s += self._latency(rule.ms, rule.jitter_ms)
            for rule in self.rules:
                if rule.kind == "latency" or not rule.matches(method, route) or not self._draw(rule):
                    continue
                if rule.kind in COMMIT_KINDS:
                    decision.commit = rule  # spent only if the write succeeds
                    break
                if rule.kind == "shift":
                    decision.shift = rule  # spent only if it fires (a page after the first)
                    break
                self._spend(rule)
                if rule.kind in PRE_KINDS:
                    decision.pre = rule
                elif rule.kind == "late_commit":
                    decision.hold = rule
                else:
                    decision.deviant = rule
                break
        return decision

    def spend(self, rule: FaultRule) -> bool:
        """Use up one firing of a ``commit_then_*`` or ``shift`` rule; False if another request took the last."""
        with self._lock:
            if rule.count is not None and rule.count <= 0:
                return False
            self._spend(rule)
            return True

    def _spend(self, rule: FaultRule) -> None:
        rule.fired += 1
        if rule.count is not None:
            rule.count -= 1

    def _draw(self, rule: FaultRule) -> bool:
        if rule.rate >= 1.0:
            return True  # certain rules draw nothing, so adding one does not shift the sequence
        return self._rng.random() < rule.rate

    def _latency(self, ms: float, jitter_ms: float) -> float:
        jitter = self._rng.uniform(0, jitter_ms) if jitter_ms else 0.0
        return (ms + jitter) / 1000.0
