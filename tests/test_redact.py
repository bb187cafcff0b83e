"""The redactor masks the token, registered secrets and bearer-style credentials in any text."""

from __future__ import annotations

import threading

from reconciler.redact import MASK, Redactor

TOKEN = "tok-ABC123-secret"


def test_the_token_and_registered_values_are_masked_wherever_they_appear():
    redact = Redactor([TOKEN])
    redact.add("p@ss\"word'1")
    text = f"you sent {TOKEN} and p@ss\"word'1, twice: {TOKEN}"
    assert redact(text) == f"you sent {MASK} and {MASK}, twice: {MASK}"


def test_a_value_is_masked_in_its_json_and_url_spellings_too():
    redact = Redactor(['sec"ret/value'])
    assert redact('{"password": "sec\\"ret/value"}') == '{"password": "***"}'
    assert redact("GET /x?q=sec%22ret%2Fvalue") == "GET /x?q=***"


def test_bearer_and_basic_credentials_are_masked_even_when_unknown():
    redact = Redactor()
    assert redact("header was Authorization: Bearer abcdef123456") == "header was Authorization: Bearer ***"
    assert redact("basic   dXNlcjpwYXNz") == "basic   ***"


def test_a_longer_secret_containing_a_shorter_one_is_masked_whole():
    redact = Redactor(["abcd", "abcdefgh"])
    assert redact("x abcdefgh y abcd") == f"x {MASK} y {MASK}"


def test_short_and_empty_values_are_not_registered_so_ordinary_words_survive():
    redact = Redactor(["", "ab", "   "])
    assert redact("a bad request about ab") == "a bad request about ab"
    assert "ab" not in redact


def test_values_may_be_added_while_other_threads_redact():
    redact = Redactor([TOKEN])
    values = [f"secret-value-{i:03d}" for i in range(50)]
    adder = threading.Thread(target=lambda: [redact.add(v) for v in values])
    adder.start()
    for _ in range(200):
        assert TOKEN not in redact(f"echo {TOKEN}")
    adder.join()
    assert redact(" ".join(values)) == " ".join([MASK] * 50)
