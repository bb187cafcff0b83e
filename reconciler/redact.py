"""Keep secrets out of anything shown: a redactor that knows the token and the command's secret values.

Server messages are echoed into our errors; a server (or a proxy in front of it) that echoes the
request's ``Authorization`` header, or a field's value, would otherwise print a secret. The client
owns one ``Redactor``; the command registers every secret value it learns (``Redactor.add``), and
whatever puts foreign text into a message passes it through the redactor first.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from typing import Any, TextIO
from urllib.parse import quote

MASK = "***"
#: values shorter than this are not registered: masking every "ab" in a message hides more than it protects
MIN_SECRET_LENGTH = 4
# any credential in an Authorization-style form, known to us or not
_AUTH_FORMS = re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=%-]{8,}")


class Redactor:
    """Replaces known secret values (and ``Bearer …`` / ``Basic …`` credentials) by ``***``.

    Thread-safe: values may be added while other threads redact. A value is also masked in the
    spellings it takes when a server echoes it inside JSON or a URL.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._values: frozenset[str] = frozenset()
        self._pattern: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *values: str) -> None:
        """Register secret values (the token, passwords, secret values); short or empty ones are ignored."""
        spellings: set[str] = set()
        for value in values:
            if not isinstance(value, str) or len(value.strip()) < MIN_SECRET_LENGTH:
                continue
            spellings.update(_spellings(value))
        with self._lock:
            if spellings <= self._values:
                return
            self._values = self._values | spellings
            # longest first, so that a value containing another is masked whole
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def __call__(self, text: str) -> str:
        """``text`` with every known secret and every bearer-style credential masked."""
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(MASK, text)
        return _AUTH_FORMS.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)

    def __contains__(self, value: str) -> bool:
        return value in self._values


def _spellings(value: str) -> set[str]:
    """The value as sent, inside a JSON string, and percent-encoded."""
    forms = {value, value.strip(), json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    forms.add(quote(value, safe=""))
    return {f for f in forms if len(f) >= MIN_SECRET_LENGTH}


class RedactingStream:
    """A text stream that passes everything written to it through a ``Redactor`` on its way to ``stream``.

    Text is held until a line ends (or ``flush``), so that a secret written in two pieces is still
    masked whole. Everything else (``isatty``, ``fileno``, ``encoding``…) is the wrapped stream's.
    Thread-safe: apply's workers and the log handler write from several threads.
    """

    def __init__(self, stream: TextIO, redactor: Redactor) -> None:
        self.stream = stream
        self.redactor = redactor
        self._pending = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self._pending += text
            head, newline, rest = self._pending.rpartition("\n")
            if newline:
                self._pending = rest
                self.stream.write(self.redactor(head + newline))
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                self.stream.write(self.redactor(self._pending))
                self._pending = ""
        self.stream.flush()

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)
