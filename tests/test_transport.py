"""One request on the wire, without the client: what is tried again, and what an answer remembers."""

from __future__ import annotations

import httpx
import pytest

from reconciler.buddy.transport import Answer, ClientSettings, Clocks, RetryPolicy, Transport
from reconciler.errors import BadAnswerError, TransportError


def _bad(method: str, path: str, status: int | None, detail: str) -> BadAnswerError:
    return BadAnswerError(method, path, status, detail)


def wire(*answers: httpx.Response | Exception, attempts: int = 3) -> tuple[Transport, list[httpx.Request]]:
    asked: list[httpx.Request] = []
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        step = queue.pop(0)
        if isinstance(step, Exception):
            raise step
        return step

    settings = ClientSettings(retry=RetryPolicy(attempts=attempts, base_delay=0.01))
    transport = Transport(
        "https://api.example.test",
        {},
        settings,
        Clocks(sleep=lambda _s: None),
        http=httpx.MockTransport(handler),
        bad=_bad,
    )
    return transport, asked


def test_a_patch_answered_5xx_then_200_is_tried_again_and_its_answer_says_an_earlier_try_may_have_landed() -> None:
    transport, asked = wire(httpx.Response(502), httpx.Response(200, json={"id": 1}))
    answer = transport.send("PATCH", "/x", json={"a": 1})
    assert isinstance(answer, Answer) and answer.status == 200 and answer.after_unknown
    assert len(asked) == 2 and transport.requests["PATCH"] == 2


def test_a_get_answered_at_once_remembers_no_unknown_try() -> None:
    transport, _asked = wire(httpx.Response(200, json={}))
    assert not transport.send("GET", "/x", "?page=1").after_unknown


def test_a_post_whose_connection_dropped_is_never_sent_again_and_its_outcome_is_unknown() -> None:
    transport, asked = wire(httpx.RemoteProtocolError("dropped"), httpx.Response(200))
    with pytest.raises(TransportError, match="dropped before an answer") as caught:
        transport.send("POST", "/x", json={})
    assert caught.value.uncertain and len(asked) == 1


def test_a_get_gives_up_after_its_attempts_and_its_last_5xx_is_the_answer() -> None:
    transport, asked = wire(httpx.Response(503), httpx.Response(503), httpx.Response(503), attempts=3)
    assert transport.send("GET", "/x").status == 503
    assert len(asked) == 3
