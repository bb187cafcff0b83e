"""The user's connection settings, checked before any request: token, base URL, timeouts, waits.

Each reader takes the raw text (an environment variable or an option) and either returns a clean value
or raises a one-paragraph ``UsageError`` that names the setting. A token's value is never part of a
message, and a URL is only ever shown without its ``user:password@`` part.
"""

from __future__ import annotations

import math
import re
import unicodedata
from urllib.parse import urlsplit

from reconciler.errors import UsageError
from reconciler.loopback import is_loopback_host

DEFAULT_BASE_URL = "https://api.buddy.works"
#: ``--region``'s base URLs
REGIONS = {"us": "https://api.buddy.works", "eu": "https://api.eu.buddy.works"}
DEFAULT_TIMEOUT = 30.0
#: how long one request may spend, in total, waiting out 429 answers (seconds)
DEFAULT_MAX_RATE_LIMIT_WAIT = 600.0
#: no single setting in seconds is allowed past a day: a larger one is a typo, not a wish
MAX_SECONDS = 86_400.0

TOKEN_VAR = "BUDDY_TOKEN"
TIMEOUT_VAR = "BUDDY_TIMEOUT"
RATE_LIMIT_WAIT_VAR = "BUDDY_MAX_RATE_LIMIT_WAIT"
BASE_URL_SOURCES = "--base-url or BUDDY_BASE_URL"

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def parse_seconds(raw: str | None, *, name: str, default: float, allow_zero: bool = False) -> float:
    """A finite number of seconds (``default`` when unset or blank); positive, or ``>= 0`` with ``allow_zero``."""
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise UsageError(f"{name} must be a number of seconds, not {show(raw)}") from None
    return check_seconds(value, name=name, allow_zero=allow_zero)


def check_seconds(value: float, *, name: str, allow_zero: bool = False) -> float:
    """Refuse NaN, infinities, negatives (and zero unless allowed) and anything past a day."""
    if math.isnan(value) or math.isinf(value):
        raise UsageError(f"{name} must be a finite number of seconds, not {value}")
    if value < 0 or (value == 0 and not allow_zero):
        least = "zero or more" if allow_zero else "more than zero"
        raise UsageError(f"{name} must be {least} seconds, not {value:g}")
    if value > MAX_SECONDS:
        raise UsageError(f"{name} must be at most {MAX_SECONDS:.0f} seconds (a day), not {value:g}")
    return value


def parse_timeout(raw: str | None) -> float:
    """``BUDDY_TIMEOUT``: seconds per network operation (default 30)."""
    return parse_seconds(raw, name=TIMEOUT_VAR, default=DEFAULT_TIMEOUT)


def parse_max_rate_limit_wait(raw: str | None) -> float:
    """``BUDDY_MAX_RATE_LIMIT_WAIT``: total seconds one request may wait out rate limits (default 600; 0: never)."""
    return parse_seconds(raw, name=RATE_LIMIT_WAIT_VAR, default=DEFAULT_MAX_RATE_LIMIT_WAIT, allow_zero=True)


def clean_token(raw: str, *, name: str = TOKEN_VAR) -> str:
    """The token without surrounding whitespace (a secret pasted with its newline); refuses a token
    with whitespace, a control character or a non-ASCII character inside it. Never shows the value."""
    token = raw.strip()
    for char in token:
        if char.isspace():
            raise UsageError(f"{name} contains whitespace inside the token; check how the secret was pasted")
        if not char.isascii() or not char.isprintable() or unicodedata.category(char).startswith("C"):
            raise UsageError(
                f"{name} contains a control or non-ASCII character; an API token is printable ASCII "
                "(check how the secret was pasted or encoded)"
            )
    return token


def require_token(raw: str | None, *, name: str = TOKEN_VAR) -> str:
    """The token from ``raw`` (cleaned); a usage error saying how to get one when it is unset or blank."""
    token = clean_token(raw or "", name=name)
    if not token:
        raise UsageError(
            f"{name} is not set: create a personal access token in Buddy (scopes WORKSPACE, "
            "EXECUTION_INFO, and EXECUTION_MANAGE for apply) and export it; or try --sandbox"
        )
    return token


def display_url(url: str) -> str:
    """``url`` as it may be shown: anything between ``//`` and the last ``@`` (user, password) is
    replaced by ``***``. Works on URLs too broken to parse, which is when they are shown in errors."""
    match = _SCHEME.match(url)
    start = match.end() if match else 0
    rest = url[start:]
    if "@" in rest:
        rest = "***@" + rest.rsplit("@", 1)[1]
    return url[:start] + rest


def check_base_url(url: str) -> str:
    """The API base URL, checked: http(s), a host, a valid port, no user or password, no query or
    fragment, plain http only on loopback. Returns it without a trailing slash. (The client also
    parses it as httpx will, which refuses hosts the standard library lets through.)"""
    url = url.strip()
    shown = show(display_url(url))
    if any(not c.isprintable() or c.isspace() for c in url):
        raise UsageError(f"the base URL {shown} ({BASE_URL_SOURCES}) contains whitespace or a control character")
    if "@" in url:  # userinfo, however mangled: checked before parsing, whose errors may quote a part of it
        raise UsageError(
            f"the base URL {shown} ({BASE_URL_SOURCES}) contains a user name or password; remove them: "
            "the API is authenticated with the token in BUDDY_TOKEN only"
        )
    try:
        parts = urlsplit(url)
        port = parts.port  # parses (and range-checks) the port
    except ValueError as exc:
        raise UsageError(f"the base URL {shown} ({BASE_URL_SOURCES}) is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"the base URL {shown} ({BASE_URL_SOURCES}) is not an http(s) URL with a host")
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise UsageError(f"the base URL {shown} ({BASE_URL_SOURCES}) must not have a query or fragment")
    if port == 0:
        raise UsageError(f"the base URL {shown} ({BASE_URL_SOURCES}) has port 0")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise UsageError(
            f"the base URL {shown} ({BASE_URL_SOURCES}) uses plain http on a non-loopback host; use https "
            "(plain http is accepted only for 127.0.0.1, ::1 or localhost)"
        )
    return url.rstrip("/")


def show(text: str, limit: int = 200) -> str:
    """A user's text quoted for a message, cut short when long."""
    return repr(text if len(text) <= limit else text[:limit] + "…")
