"""Connection settings are checked before any request: a clear usage error, never a traceback or a secret."""

from __future__ import annotations

import io

import pytest

from reconciler.buddy.settings import (
    DEFAULT_MAX_RATE_LIMIT_WAIT,
    check_base_url,
    clean_token,
    display_url,
    parse_max_rate_limit_wait,
    parse_timeout,
    require_token,
)
from reconciler.cli import main as cli
from reconciler.errors import UsageError

TOKEN = "tok-ABC123-secret"


@pytest.mark.parametrize("raw", ["nan", "NaN", "inf", "-inf", "-1", "0", "ten", "1e300", "30s"])
def test_a_timeout_that_is_not_a_positive_finite_number_is_refused_by_name(raw):
    with pytest.raises(UsageError, match="BUDDY_TIMEOUT"):
        parse_timeout(raw)


def test_a_timeout_defaults_to_30_seconds_and_reads_decimals():
    assert parse_timeout(None) == 30.0
    assert parse_timeout(" ") == 30.0
    assert parse_timeout(" 2.5 ") == 2.5


def test_the_rate_limit_cap_defaults_to_ten_minutes_and_may_be_zero():
    assert parse_max_rate_limit_wait(None) == DEFAULT_MAX_RATE_LIMIT_WAIT >= 300
    assert parse_max_rate_limit_wait("0") == 0.0
    for raw in ("nan", "-5", "soon"):
        with pytest.raises(UsageError, match="BUDDY_MAX_RATE_LIMIT_WAIT"):
            parse_max_rate_limit_wait(raw)


def test_a_token_pasted_with_its_newline_is_stripped():
    assert clean_token(f"  {TOKEN}\n") == TOKEN
    assert require_token(f"{TOKEN}\r\n") == TOKEN


@pytest.mark.parametrize(
    "bad", [f"{TOKEN} more", f"{TOKEN}\tx", f"{TOKEN}\x00", f"{TOKEN}\x7f", f"{TOKEN}é", "\u200b" + TOKEN]
)
def test_a_token_with_inner_whitespace_control_or_non_ascii_is_refused_without_its_value(bad):
    with pytest.raises(UsageError, match="BUDDY_TOKEN") as caught:
        clean_token(bad)
    assert TOKEN not in str(caught.value)


def test_an_unset_or_blank_token_says_how_to_get_one():
    for raw in (None, "", " \n"):
        with pytest.raises(UsageError, match=r"BUDDY_TOKEN is not set.*--sandbox"):
            require_token(raw)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://[::1", "not a valid URL"),
        ("http://127.0.0.1:abc", "not a valid URL"),
        ("https://api.example.com:99999", "not a valid URL"),
        ("https://api.example.com:0", "port 0"),
        ("ftp://api.example.com", "not an http"),
        ("api.example.com", "not an http"),
        ("https://", "not an http"),
        ("https://api.example.com/api?x=1", "query or fragment"),
        ("https://api.example.com/api#top", "query or fragment"),
        ("https://api.exa mple.com", "whitespace"),
        ("https://api.example.com\x00", "control"),
        ("http://buddy.example.com", "plain http"),
    ],
)
def test_a_base_url_that_cannot_work_is_refused_naming_the_option(url, reason):
    with pytest.raises(UsageError, match=reason) as caught:
        check_base_url(url)
    assert "--base-url or BUDDY_BASE_URL" in str(caught.value)


@pytest.mark.parametrize(
    "url", ["https://user:hunter22@api.example.com", "https://hunter22@api.example.com", "https://u:hun/ter22@h"]
)
def test_a_base_url_with_credentials_is_refused_without_showing_them(url):
    with pytest.raises(UsageError, match="user name or password") as caught:
        check_base_url(url)
    assert "hunter22" not in str(caught.value) and "ter22" not in str(caught.value)
    assert "***@" in str(caught.value)


def test_good_base_urls_lose_only_their_trailing_slash():
    assert check_base_url("https://api.buddy.works/") == "https://api.buddy.works"
    assert check_base_url("https://buddy.corp.example/api") == "https://buddy.corp.example/api"
    assert check_base_url("http://[::1]:8080") == "http://[::1]:8080"
    assert check_base_url("http://localhost:1") == "http://localhost:1"


def test_a_url_is_displayed_without_its_userinfo_even_when_broken():
    assert display_url("https://u:p@host/api") == "https://***@host/api"
    assert display_url("https://u:p/q@[::1") == "https://***@[::1"
    assert display_url("https://host/api") == "https://host/api"


@pytest.mark.parametrize(
    ("env", "args", "expected"),
    [
        ({"BUDDY_TIMEOUT": "nan"}, [], "BUDDY_TIMEOUT"),
        ({"BUDDY_TIMEOUT": "-3"}, [], "BUDDY_TIMEOUT"),
        ({"BUDDY_MAX_RATE_LIMIT_WAIT": "inf"}, [], "BUDDY_MAX_RATE_LIMIT_WAIT"),
        ({}, ["--base-url", "http://[::1"], "Invalid IPv6 URL"),
        ({}, ["--base-url", "http://127.0.0.1:abc"], "not a valid URL"),
        ({"BUDDY_BASE_URL": "https://bot:hunter22@api.example.com"}, [], "user name or password"),
        ({"BUDDY_TOKEN": f"{TOKEN}\x1b[2J"}, [], "BUDDY_TOKEN contains a control"),
        ({"BUDDY_TOKEN": f"{TOKEN} {TOKEN}"}, [], "BUDDY_TOKEN contains whitespace"),
    ],
)
def test_the_cli_turns_each_bad_setting_into_one_line_and_exit_1(monkeypatch, tmp_path, env, args, expected):
    (tmp_path / "p.yaml").write_text(
        "workspace: acme\nproject: web\npipelines:\n  - name: Docs\n    actions: []\n", encoding="utf-8"
    )
    for name in ("BUDDY_TIMEOUT", "BUDDY_BASE_URL", "BUDDY_MAX_RATE_LIMIT_WAIT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BUDDY_TOKEN", TOKEN)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["plan", str(tmp_path), *args], out=out, err=err)
    assert code == 1
    text = err.getvalue()
    assert text.startswith("error: ") and text.count("\n") == 1 and expected in text
    assert TOKEN not in text and "hunter22" not in text and "Traceback" not in text
