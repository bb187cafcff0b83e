"""Answers read without trusting them: strict JSON, a nesting cap, the server's words without control characters."""

from __future__ import annotations

import pytest

from reconciler.buddy.answers import MAX_DEPTH, TooDeep, check_depth, decode, server_message, without_controls


def nested(depth: int) -> object:
    """``depth`` lists or objects, one inside the other."""
    value: object = 1
    for _ in range(depth):
        value = [value] if depth % 2 else {"k": value}
    return value


def test_nesting_up_to_the_cap_is_read_and_one_level_more_is_refused():
    check_depth(nested(MAX_DEPTH))
    with pytest.raises(TooDeep):
        check_depth(nested(MAX_DEPTH + 1))
    with pytest.raises(TooDeep):
        decode(b"[" * 200_000)


@pytest.mark.parametrize("body", [b"NaN", b'{"a": Infinity}', b"[-Infinity]", b'"\xff"'])
def test_what_json_does_not_allow_is_not_json(body: bytes):
    with pytest.raises(ValueError):
        decode(body)


def test_the_servers_words_lose_their_control_characters_and_are_cut_short():
    assert without_controls("\x1b[31mred\r\n\x9bbold\x00") == "[31mred bold"
    assert server_message(b'{"errors": [{"message": "a\\u001b]0;title\\u0007b"}]}', "Bad") == "a ]0;title b"
    assert server_message(b"", "\x1b") == "no message"
    assert server_message(b'{"errors": [{"message": "' + b"x" * 600 + b'"}]}', "", limit=10) == "x" * 10 + "…"
