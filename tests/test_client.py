"""The client's own logic through httpx.MockTransport: retries, rate limits, pagination, errors."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from reconciler.buddy import pages as pages_module
from reconciler.buddy import transport as transport_module
from reconciler.buddy.client import BuddyClient, ClientSettings, Clocks, RetryPolicy, check_base_url
from reconciler.buddy.pages import PER_PAGE, SHIFT_READS
from reconciler.errors import (
    AuthError,
    BadAnswerError,
    BadRequestError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
    UsageError,
)

TOKEN = "secret-token-value-123"
Handler = Callable[[httpx.Request], httpx.Response]


def make(
    handler: Handler,
    sleeps: list[float] | None = None,
    *,
    parallelism: int = 8,
    wall_clock: Callable[[], float] = time.time,
    notice: Callable[[str], None] | None = None,
) -> BuddyClient:
    record = sleeps if sleeps is not None else []
    return BuddyClient(
        "https://api.example.test",
        TOKEN,
        ClientSettings(parallelism=parallelism, retry=RetryPolicy(attempts=4, base_delay=0.01)),
        transport=httpx.MockTransport(handler),
        clocks=Clocks(sleep=record.append, wall_clock=wall_clock),
        notice=notice,
    )


class IteratorStream(httpx.SyncByteStream):
    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks


def scripted(*responses: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return handler, seen


def test_plain_http_is_refused_except_on_loopback():
    with pytest.raises(UsageError, match="plain http"):
        check_base_url("http://buddy.example.com")
    assert check_base_url("http://127.0.0.1:8080/") == "http://127.0.0.1:8080"
    assert check_base_url("http://localhost:1") == "http://localhost:1"


@pytest.mark.parametrize("host", ["a" * 64 + ".example.com", "a..example.com", ".example.com"])
def test_a_host_name_with_an_empty_or_overlong_label_is_refused_before_any_request(host: str):
    with pytest.raises(UsageError, match="host name"):
        check_base_url(f"https://{host}")


def test_a_missing_token_is_a_usage_error():
    with pytest.raises(UsageError, match="BUDDY_TOKEN"):
        BuddyClient("https://api.buddy.works", "")


def test_the_token_is_sent_as_a_bearer_header():
    handler, seen = scripted(httpx.Response(200, json={"pipelines": []}))
    with make(handler) as client:
        client.list_pipelines("acme", "web")
    assert seen[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_pages_are_read_until_one_is_shorter_than_per_page():
    full = {"pipelines": [{"id": i, "name": f"p{i}"} for i in range(PER_PAGE)]}
    last = {"pipelines": [{"id": -1, "name": "last"}]}
    handler, seen = scripted(httpx.Response(200, json=full), httpx.Response(200, json=last))
    with make(handler) as client:
        items = client.list_pipelines("acme", "web")
    assert len(items) == PER_PAGE + 1
    assert [r.url.params["page"] for r in seen] == ["1", "2"]


def test_a_429_waits_for_retry_after_then_succeeds():
    sleeps: list[float] = []
    handler, seen = scripted(httpx.Response(429, headers={"Retry-After": "2"}), httpx.Response(200, json={"id": 1}))
    with make(handler, sleeps) as client:
        assert client.get_action("a", "b", 1, 1) == {"id": 1}
    assert sleeps == [2.0] and len(seen) == 2


def test_a_get_is_retried_after_a_5xx_and_a_dropped_connection():
    handler, seen = scripted(
        httpx.Response(502), httpx.RemoteProtocolError("dropped"), httpx.Response(200, json={"id": 1})
    )
    with make(handler) as client:
        assert client.get_action("a", "b", 1, 1) == {"id": 1}
    assert len(seen) == 3


def test_a_post_is_never_repeated_after_an_unknown_outcome():
    handler, seen = scripted(httpx.Response(500, json={"errors": [{"message": "boom"}]}))
    with make(handler) as client, pytest.raises(ServerError) as caught:
        client.create_action("a", "b", 1, {"name": "x"})
    assert caught.value.uncertain and len(seen) == 1
    handler, seen = scripted(httpx.RemoteProtocolError("dropped"))
    with make(handler) as client, pytest.raises(TransportError) as dropped:
        client.create_action("a", "b", 1, {"name": "x"})
    assert dropped.value.uncertain and len(seen) == 1


def test_a_post_answered_429_is_retried_because_nothing_happened():
    handler, seen = scripted(httpx.Response(429, headers={"Retry-After": "0"}), httpx.Response(201, json={"id": 9}))
    with make(handler) as client:
        assert client.create_action("a", "b", 1, {"name": "x"}) == {"id": 9}
    assert len(seen) == 2


def test_a_delete_answered_404_after_an_uncertain_try_has_succeeded():
    handler, _ = scripted(httpx.RemoteProtocolError("dropped"), httpx.Response(404))
    with make(handler) as client:
        assert client.delete_action("a", "b", 1, 2) is None


def test_a_401_names_the_scopes_and_never_the_token():
    body = {"errors": [{"message": "Bad token"}]}
    handler, _ = scripted(httpx.Response(401, json=body))
    with make(handler) as client, pytest.raises(AuthError) as caught:
        client.list_pipelines("acme", "web")
    message = str(caught.value)
    assert "GET /workspaces/acme/projects/web/pipelines" in message and "EXECUTION_INFO" in message
    assert TOKEN not in message


def test_a_403_on_a_write_names_the_write_scopes():
    handler, _ = scripted(httpx.Response(403, json={"errors": [{"message": "no scope"}]}))
    with make(handler) as client, pytest.raises(ForbiddenError, match="EXECUTION_MANAGE"):
        client.update_action("a", "b", 1, 2, {"cache_mode": "MAX"})


def test_requests_give_up_after_the_retry_budget():
    handler, seen = scripted(*[httpx.Response(503) for _ in range(4)])
    with make(handler) as client, pytest.raises(ServerError):
        client.get_pipeline("a", "b", 1)
    assert len(seen) == 4


def test_map_keeps_input_order_and_counts_requests():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"id": int(request.url.path.rsplit("/", 1)[1])})

    with make(handler, parallelism=3) as client:
        results = client.map(lambda i: client.get_action("a", "b", 1, i), range(10))
    assert [r["id"] for r in results] == list(range(10))
    assert json.dumps(dict(client.requests)) == '{"GET": 10}'


# -- the shape of every answer is checked where it arrives -----------------------------------------

ACTION_PATH = "/workspaces/a/projects/b/pipelines/1/actions"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"pipelines": [{"name": "no id"}]}, "has no id in item 1 of 'pipelines'"),
        ({"pipelines": [{"id": None}]}, "has an id that is null in item 1"),
        ({"pipelines": [{"id": 1, "name": "a"}, {"id": "2"}]}, "has an id that is a string in item 2"),
        ({"pipelines": [{"id": 1.5}]}, "has an id that is a number"),
        ({"pipelines": [{"id": True}]}, "has an id that is a boolean"),
        ({"pipelines": ["Build"]}, "has a string as item 1 of 'pipelines'"),
        ({"pipelines": {"id": 1}}, "has no 'pipelines' list"),
        ([{"id": 1}], "has no 'pipelines' list (it is a list)"),
        (b"", "has no 'pipelines' list (it is empty)"),
        (b"<html>maintenance</html>", "is not JSON (text/html)"),
        (b"[" * 100_000, "is nested too deeply"),
        (b"[" * 65 + b"]" * 65, "is nested too deeply"),
        (b'{"pipelines": [{"id": 1, "name": NaN}]}', "is not JSON"),
        (b'{"pipelines": [{"id": 1, "name": "\xff"}]}', "is not JSON"),
        ({"pipelines": [{"id": 1}]}, "has no name in item 1 of 'pipelines'"),
        ({"pipelines": [{"id": 1, "name": 5}]}, "has a name that is an integer in item 1"),
    ],
)
def test_a_list_answer_that_breaks_the_contract_is_a_clear_error_naming_method_and_path(body, detail):
    if isinstance(body, bytes):
        answer = httpx.Response(200, content=body, headers={"Content-Type": "text/html; charset=utf-8"})
    else:
        answer = httpx.Response(200, json=body)
    handler, _ = scripted(answer)
    with make(handler) as client, pytest.raises(BadAnswerError) as caught:
        client.list_pipelines("acme", "web")
    message = str(caught.value)
    assert message.startswith("the answer to GET /workspaces/acme/projects/web/pipelines?page=1 (200) ")
    assert detail in message
    assert not caught.value.uncertain


@pytest.mark.parametrize(
    ("answer", "detail"),
    [
        (httpx.Response(200, content=b""), "is empty where the action is due"),
        (httpx.Response(200, json=[{"id": 3}]), "is a list where the action object is due"),
        (httpx.Response(200, json={"name": "x"}), "has no action id"),
        (httpx.Response(200, text="<!doctype html>", headers={"Content-Type": "text/html"}), "is not JSON (text/html)"),
    ],
)
def test_a_get_answered_with_something_else_than_an_object_with_an_id_is_a_clear_error(answer, detail):
    handler, _ = scripted(answer)
    with make(handler) as client, pytest.raises(BadAnswerError, match=re.escape(detail)) as caught:
        client.get_action("a", "b", 1, 2)
    assert "GET /workspaces/a/projects/b/pipelines/1/actions/2" in str(caught.value)


@pytest.mark.parametrize(
    "answer",
    [httpx.Response(204), httpx.Response(201, content=b""), httpx.Response(201, json={"name": "x"})],
)
def test_a_create_whose_answer_has_no_id_is_uncertain_and_never_sent_again(answer):
    handler, seen = scripted(answer)
    with make(handler) as client, pytest.raises(BadAnswerError) as caught:
        client.create_action("a", "b", 1, {"name": "x"})
    assert caught.value.uncertain and len(seen) == 1
    message = str(caught.value)
    assert message.startswith(f"the answer to POST {ACTION_PATH} (")
    assert "outcome is unknown" in message


def test_a_create_without_an_id_says_so_in_words():
    handler, _ = scripted(httpx.Response(201, json={"name": "x"}))
    with (
        make(handler) as client,
        pytest.raises(BadAnswerError, match=f"the answer to POST {ACTION_PATH} .* has no action id"),
    ):
        client.create_action("a", "b", 1, {"name": "x"})


def test_a_redirect_is_not_followed_and_names_where_it_pointed_without_userinfo():
    moved = httpx.Response(302, headers={"Location": "https://bot:hunter22@login.example.com/sso"})
    handler, seen = scripted(moved)
    with (
        make(handler) as client,
        pytest.raises(BadAnswerError, match=re.escape("redirect to 'https://***@login.example.com/sso'")) as caught,
    ):
        client.get_pipeline("a", "b", 1)
    assert len(seen) == 1 and "hunter22" not in str(caught.value)
    handler, _ = scripted(httpx.Response(303, headers={"Location": "/elsewhere"}))
    with make(handler) as client, pytest.raises(BadAnswerError) as posted:
        client.create_pipeline("a", "b", {"name": "P"})
    assert posted.value.uncertain


# -- answers that never end ------------------------------------------------------------------------


def test_a_server_that_ignores_page_is_stopped_when_every_read_repeats_its_first_page():
    full = {"actions": [{"id": i, "name": f"a{i}"} for i in range(PER_PAGE)]}
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=full)

    with (
        make(handler) as client,
        pytest.raises(BadAnswerError, match=r"the server seems to ignore `page` \(page 2 repeats page 1\)"),
    ):
        client.list_actions("a", "b", 1)
    assert len(seen) == 2 * SHIFT_READS  # a repeated page may be an edit: read again, then give up


def test_a_server_that_sends_full_pages_forever_is_stopped_past_the_item_cap(monkeypatch):
    monkeypatch.setattr(pages_module, "MAX_LIST_ITEMS", 5 * PER_PAGE)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        page = int(request.url.params["page"])
        items = [{"id": page * 1000 + i, "name": f"p{i}"} for i in range(PER_PAGE)]
        return httpx.Response(200, json={"pipelines": items})

    with make(handler) as client, pytest.raises(BadAnswerError, match=f"goes on past {5 * PER_PAGE} pipelines"):
        client.list_pipelines("a", "b")
    assert len(seen) == 6


class FakeClock:
    """A monotonic clock that moves only when told (or when the client 'sleeps')."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_server_that_trickles_its_answer_is_cut_off_at_the_request_deadline():
    clock = FakeClock()

    def trickle() -> Iterator[bytes]:
        for byte in b'{"id": 1, "name": "' + b"x" * 1000 + b'"}':
            clock.now += 1.0  # one byte a second: every read is within the timeout
            yield bytes([byte])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=IteratorStream(trickle()))

    client = BuddyClient(
        "https://api.example.test",
        TOKEN,
        ClientSettings(timeout=10, retry=RetryPolicy(attempts=2, base_delay=0.01)),
        transport=httpx.MockTransport(handler),
        clocks=Clocks(sleep=clock.sleep, clock=clock),
    )
    with client, pytest.raises(TransportError, match="no complete answer within 30 s") as caught:
        client.get_action("a", "b", 1, 1)
    assert clock.now < 1000 + 2 * 35  # two attempts, each cut off near its 30 s deadline
    assert client.requests["GET"] == 2 and not caught.value.uncertain


def test_an_answer_larger_than_the_cap_is_refused_while_it_is_read(monkeypatch):
    monkeypatch.setattr(transport_module, "MAX_BODY_BYTES", 1000)
    handler, _ = scripted(httpx.Response(200, json={"id": 1, "blob": "x" * 5000}))
    with make(handler) as client, pytest.raises(BadAnswerError, match="is larger than 1000 bytes"):
        client.get_action("a", "b", 1, 1)


# -- rate limits are waited out as long as the server asks, up to a total cap ----------------------


def test_one_long_retry_after_is_waited_out_and_announced_once():
    notices: list[str] = []
    sleeps: list[float] = []
    handler, seen = scripted(httpx.Response(429, headers={"Retry-After": "200"}), httpx.Response(200, json={"id": 1}))
    with make(handler, sleeps, notice=notices.append) as client:
        assert client.get_action("a", "b", 1, 1) == {"id": 1}
    assert sleeps == [200.0] and len(seen) == 2
    assert notices == ["rate limited by the API: waiting 200 s"]


def test_many_429s_in_a_row_are_all_waited_out_and_short_waits_are_not_announced():
    notices: list[str] = []
    sleeps: list[float] = []
    limited = [httpx.Response(429, headers={"Retry-After": "1"}) for _ in range(10)]
    handler, seen = scripted(*limited, httpx.Response(200, json={"id": 1}))
    with make(handler, sleeps, notice=notices.append) as client:
        assert client.get_action("a", "b", 1, 1) == {"id": 1}
    assert sleeps == [1.0] * 10 and len(seen) == 11 and notices == []


def test_the_rate_limit_reset_header_is_read_as_epoch_seconds():
    sleeps: list[float] = []
    reset = httpx.Response(429, headers={"X-Rate-Limit-Reset": "1700000040", "X-Rate-Limit-Remaining": "0"})
    handler, _ = scripted(reset, httpx.Response(200, json={"id": 1}))
    with make(handler, sleeps, wall_clock=lambda: 1_700_000_000.0) as client:
        client.get_action("a", "b", 1, 1)
    assert sleeps == [40.0]


def test_passing_the_total_rate_limit_cap_is_an_error_that_says_so():
    sleeps: list[float] = []
    handler, seen = scripted(*[httpx.Response(429, headers={"Retry-After": "100"}) for _ in range(4)])
    client = BuddyClient(
        "https://api.example.test",
        TOKEN,
        ClientSettings(retry=RetryPolicy(max_wait=250)),
        transport=httpx.MockTransport(handler),
        clocks=Clocks(sleep=sleeps.append),
    )
    with client, pytest.raises(RateLimitedError) as caught:
        client.get_action("a", "b", 1, 1)
    assert sleeps == [100.0, 100.0] and len(seen) == 3
    message = str(caught.value)
    assert "asks to wait 100 s more after 200 s of waiting, past the cap of 250 s" in message
    assert "BUDDY_MAX_RATE_LIMIT_WAIT" in message


def test_429s_without_a_wait_back_off_and_still_stop_at_the_cap():
    sleeps: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429)

    client = BuddyClient(
        "https://api.example.test",
        TOKEN,
        ClientSettings(retry=RetryPolicy(max_wait=60, max_delay=8)),
        transport=httpx.MockTransport(handler),
        clocks=Clocks(sleep=sleeps.append),
    )
    with client, pytest.raises(RateLimitedError, match="still answers 429"):
        client.get_action("a", "b", 1, 1)
    assert 52 < sum(sleeps) <= 60 and max(sleeps) <= 8


# -- secrets in server messages --------------------------------------------------------------------


def test_a_server_message_echoing_the_token_or_a_registered_secret_is_redacted():
    echo = {"errors": [{"message": f"bad header Authorization: Bearer {TOKEN}; password hunter2-pw refused"}]}
    handler, _ = scripted(httpx.Response(400, json=echo))
    with make(handler) as client, pytest.raises(BadRequestError) as caught:
        client.redactor.add("hunter2-pw")
        client.update_action("a", "b", 1, 2, {"password": "hunter2-pw"})
    message = str(caught.value)
    assert TOKEN not in message and "hunter2-pw" not in message
    assert "Bearer ***" in message and "password *** refused" in message


def test_a_server_message_cannot_send_escape_sequences_to_the_terminal():
    shouting = {"errors": [{"message": "\x1b[2J\x1b[31mred\nalert\x07"}]}
    gone = httpx.Response(404, extensions={"reason_phrase": b"\x1b[31mGone"})
    handler, _ = scripted(httpx.Response(400, json=shouting), gone)
    with make(handler) as client:
        with pytest.raises(BadRequestError) as caught:
            client.update_action("a", "b", 1, 2, {"name": "x"})
        assert "\x1b" not in str(caught.value) and "[2J [31mred alert" in str(caught.value)
        with pytest.raises(NotFoundError) as missing:
            client.get_action("a", "b", 1, 2)
        assert str(missing.value).endswith("answered 404: [31mGone"), missing.value


def test_an_object_nested_too_deeply_to_be_compared_is_refused_where_it_arrives():
    deep: object = "x"
    for _ in range(900):
        deep = [deep]
    handler, _ = scripted(httpx.Response(200, json={"id": 1, "commands": deep}))
    with make(handler) as client, pytest.raises(BadAnswerError, match="nested too deeply"):
        client.get_action("a", "b", 1, 2)


# -- settings reach the client too -----------------------------------------------------------------


def test_the_client_refuses_bad_settings_before_any_request():
    with pytest.raises(UsageError, match="user name or password"):
        BuddyClient("https://u:p@api.example.test", TOKEN)
    with pytest.raises(UsageError, match="BUDDY_TIMEOUT"):
        BuddyClient("https://api.example.test", TOKEN, ClientSettings(timeout=float("nan")))
    with pytest.raises(UsageError, match="BUDDY_TOKEN contains whitespace"):
        BuddyClient("https://api.example.test", "a b c d")
    with make(scripted()[0]) as client:
        assert client.target == "https://api.example.test"


# -- over real HTTP against the sandbox ------------------------------------------------------------


def test_cannot_connect_names_the_url_it_tried():
    with socket.socket() as probe:  # a port nobody listens on: bound, never listening
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
        client = BuddyClient(
            url, TOKEN, ClientSettings(retry=RetryPolicy(attempts=2)), clocks=Clocks(sleep=lambda s: None)
        )
        with client, pytest.raises(TransportError) as caught:
            client.list_pipelines("acme", "web")
    assert f"cannot connect to the API at {url} " in str(caught.value)


def test_a_write_that_never_reached_the_server_is_retried_and_its_outcome_is_known():
    """A refused connection sent nothing: even a POST may be tried again, and failing is certain."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
        client = BuddyClient(
            url, TOKEN, ClientSettings(retry=RetryPolicy(attempts=3)), clocks=Clocks(sleep=lambda s: None)
        )
        with client, pytest.raises(TransportError) as caught:
            client.create_action("acme", "web", 7, {"name": "Build", "type": "DOCKER_BUILD_MULTI_ARCH"})
    assert caught.value.uncertain is False
    assert client.requests["POST"] == 3


def test_a_sandbox_rate_limit_storm_is_waited_out_and_announced(sandbox_server):
    sandbox_server.app.set_faults({"kind": "rate_limit", "count": 3, "retry_after": 30})
    sleeps: list[float] = []
    notices: list[str] = []
    client = BuddyClient(
        sandbox_server.url, sandbox_server.token, notice=notices.append, clocks=Clocks(sleep=sleeps.append)
    )
    with client:
        names = [p["name"] for p in client.list_pipelines("acme", "web")]
    assert names == ["Release images", "Docs"]
    assert sleeps == [30.0, 30.0, 30.0] and client.requests["GET"] == 5  # 3 waited out, 2 pages
    assert notices[0] == "rate limited by the API: waiting 30 s"


class BlankPosts(httpx.BaseTransport):
    """Real HTTP to the sandbox, but every POST's answer is lost on the way back (an empty 201)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method != "POST" or response.status_code != 201:
            return response
        response.read()
        response.close()
        return httpx.Response(201, content=b"")

    def close(self) -> None:
        self.inner.close()


def test_a_create_answered_without_a_body_is_uncertain_and_apply_finds_it_instead_of_posting_again(sandbox_server):
    from reconciler.uncertain import create_once

    app = sandbox_server.app
    client = BuddyClient(sandbox_server.url, sandbox_server.token, transport=BlankPosts())
    fields = {"name": "Build docs image", "type": "DOCKER_BUILD_MULTI_ARCH", "dockerfile_path": "docs/Dockerfile"}
    with client:
        with pytest.raises(BadAnswerError, match=r"\(201\) is empty where the action is due") as caught:
            client.create_action("acme", "web", 7, fields)
        assert caught.value.uncertain
        app.reset_stats()
        # apply's contract for an uncertain create: look before posting again
        found = create_once(
            lambda: client.create_action("acme", "web", 7, {**fields, "name": "Build site image"}),
            lambda: next((a for a in client.list_actions("acme", "web", 7) if a["name"] == "Build site image"), None),
        )
    assert found["name"] == "Build site image"
    assert app.stats()["by_method"].get("POST") == 1
    actions = [a.name for _ws, _pr, p in app.state.iter_pipelines() if p.id == 7 for a in p.actions]
    assert actions == ["Run tests", "Build app image", "Build docs image", "Build site image"]


# -- connections: one keep-alive connection per lane, at most parallelism of them -------------------


def count_connections(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    opened: list[object] = []
    connect = socket.create_connection

    def counting(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        opened.append(address)
        return connect(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", counting)
    return opened


def test_sequential_requests_reuse_one_keep_alive_connection(sandbox_server, monkeypatch):
    opened = count_connections(monkeypatch)
    with BuddyClient(sandbox_server.url, sandbox_server.token, ClientSettings(parallelism=8)) as client:
        for _ in range(5):
            client.get_action("acme", "web", 7, 40)
        client.list_actions("acme", "web", 7)
    assert len(opened) == 1 and client.requests["GET"] == 7  # the list: its page, then the empty page that ends it


def test_callers_on_threads_of_their_own_share_at_most_parallelism_connections(sandbox_server, monkeypatch):
    sandbox_server.app.set_faults(latency_ms=5)  # requests overlap
    opened = count_connections(monkeypatch)
    with (
        BuddyClient(sandbox_server.url, sandbox_server.token, ClientSettings(parallelism=3)) as client,
        ThreadPoolExecutor(max_workers=8) as callers,  # as apply does: its own threads, not the client's pool
    ):
        results = list(callers.map(lambda i: client.get_action("acme", "web", 7, 40 + i % 2), range(40)))
        results += client.map(lambda i: client.get_action("acme", "web", 7, 40 + i % 2), range(20))
    assert [r["id"] for r in results] == [40 + i % 2 for i in range(40)] + [40 + i % 2 for i in range(20)]
    assert 1 <= len(opened) <= 3
    assert client.requests["GET"] == 60 == sandbox_server.app.stats()["total"]


# -- pacing from the rate budget -------------------------------------------------------------------


def test_requests_are_held_until_the_reset_when_the_remaining_budget_is_down_to_the_reserve():
    now = [1_700_000_000.0]
    sleeps: list[float] = []
    notices: list[str] = []
    remaining = iter([10, 5, 3, 2, 50, 49])

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"X-Rate-Limit-Remaining": str(next(remaining)), "X-Rate-Limit-Reset": str(int(now[0]) + 12)}
        return httpx.Response(200, json={"id": 1}, headers=headers)

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    client = BuddyClient(
        "https://api.example.test",
        TOKEN,
        transport=httpx.MockTransport(handler),
        notice=notices.append,
        clocks=Clocks(sleep=sleep, wall_clock=lambda: now[0]),
    )
    with client:
        for _ in range(6):
            client.get_action("a", "b", 1, 1)
    assert sleeps == [12.0]  # held once, after the answer that left 2 (the reserve)
    assert notices == ["rate limit nearly reached: waiting 12 s for the API's budget to reset"]


def test_a_hold_longer_than_the_cap_is_not_made():
    headers = {"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": "1700003600"}
    handler, seen = scripted(*[httpx.Response(200, json={"id": 1}, headers=headers) for _ in range(2)])
    sleeps: list[float] = []
    with make(handler, sleeps, wall_clock=lambda: 1_700_000_000.0) as client:
        client.get_action("a", "b", 1, 1)
        client.get_action("a", "b", 1, 1)
    assert sleeps == [] and len(seen) == 2


def test_a_plan_paced_against_a_small_sandbox_budget_meets_no_429(sandbox_seed):
    from reconciler.sandbox import DEFAULT_TOKEN, SandboxApp, SandboxServer, SandboxState

    clock = [1_700_000_000.0]
    lock = threading.Lock()

    def sleep(seconds: float) -> None:  # the server's window and our waits share one fake clock
        with lock:
            clock[0] += seconds

    app = SandboxApp(SandboxState.from_data(sandbox_seed), rate_limit=10, rate_window_s=5, clock=lambda: clock[0])
    with (
        SandboxServer(app, poll_interval=0.005) as server,
        BuddyClient(
            server.url,
            DEFAULT_TOKEN,
            ClientSettings(parallelism=4),
            clocks=Clocks(sleep=sleep, wall_clock=lambda: clock[0]),
        ) as client,
    ):
        results = client.map(lambda i: client.get_action("acme", "web", 7, 40 + i % 2), range(60))
    assert len(results) == 60
    assert 429 not in {int(k) for k in app.stats()["by_status"]}
    assert clock[0] >= 1_700_000_000.0 + 5 * 5  # 60 requests at under 10 per 5 s window


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Rate-Limit-Remaining": "1000", "X-Rate-Limit-Reset": "1700000060"}],
    ids=["an API that sends no budget", "a budget that covers them"],
)
def test_once_the_first_answer_is_in_attempts_go_out_together(headers):
    together = threading.Barrier(4, timeout=10)  # broken (an error) unless four requests are in flight at once
    answered = []

    def handler(request: httpx.Request) -> httpx.Response:
        if answered:  # the first answer alone: it may have to tell the budget
            together.wait()
        answered.append(request)
        return httpx.Response(200, json={"id": 1}, headers=headers)

    with make(handler, parallelism=4, wall_clock=lambda: 1_700_000_000.0) as client:
        client.get_action("a", "b", 1, 1)
        assert len(client.map(lambda i: client.get_action("a", "b", 1, 1), range(8))) == 8


# -- a stop (Ctrl-C) cuts rate-limit waits short ----------------------------------------------------


def test_a_stop_during_a_long_retry_after_ends_the_wait_at_once_and_does_not_send_again(sandbox_server):
    """Over real HTTP: a 429 asks for 300 s; the stop comes while the client waits (its announcement
    sets it here); the request gives up at once, says why, and is not sent again."""
    sandbox_server.app.set_faults({"kind": "rate_limit", "count": 1, "retry_after": 300, "methods": ["POST"]})
    stop = threading.Event()
    client = BuddyClient(sandbox_server.url, sandbox_server.token, notice=lambda _text: stop.set(), stop=stop)
    with client, pytest.raises(RateLimitedError) as caught:
        client.create_action("acme", "web", 7, {"name": "x", "type": "DOCKER_BUILD_MULTI_ARCH"})
    assert "interrupted while waiting for the API's rate limit: not sent again" in str(caught.value)
    assert not caught.value.uncertain  # a 429: the server did nothing
    assert client.requests["POST"] == 1
    assert [a.name for a in sandbox_server.app.state.pipeline("acme", "web", 7).actions] == [
        "Run tests",
        "Build app image",
    ]


def test_a_stop_during_a_pacing_hold_sends_nothing():
    headers = {"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": "1700000100"}
    handler, seen = scripted(httpx.Response(200, json={"id": 1}, headers=headers))
    stop = threading.Event()
    client = BuddyClient(
        "https://api.example.test",
        TOKEN,
        transport=httpx.MockTransport(handler),
        stop=stop,
        clocks=Clocks(sleep=lambda _seconds: stop.set(), wall_clock=lambda: 1_700_000_000.0),
    )
    with client:
        client.get_action("a", "b", 1, 1)  # its answer says the budget is spent until the reset
        with pytest.raises(RateLimitedError, match=r"interrupted while waiting for the API's rate limit: not sent$"):
            client.get_action("a", "b", 1, 1)
    assert len(seen) == 1


@pytest.mark.parametrize(
    ("workspace", "project", "raw"),
    [
        ("ws-ü", "a/b?c#d%e f", b"/workspaces/ws-%C3%BC/projects/a%2Fb%3Fc%23d%25e%20f/pipelines"),
        ("..", ".", b"/workspaces/%2E%2E/projects/%2E/pipelines"),
        ("...", "a..b", b"/workspaces/.../projects/a..b/pipelines"),
    ],
    ids=["reserved characters", "dot segments", "dots inside a name"],
)
def test_a_name_is_one_escaped_path_segment_whatever_it_holds(workspace: str, project: str, raw: bytes):
    handler, seen = scripted(httpx.Response(200, json={"pipelines": []}))
    with make(handler) as client:
        assert client.list_pipelines(workspace, project) == []
    assert seen[0].url.raw_path.split(b"?")[0] == raw  # a '..' would otherwise climb out of the project


def test_a_storm_of_429s_asking_for_a_millisecond_waits_at_least_a_second_each_and_stops_at_the_cap():
    # a proxy answering 429 with Retry-After: 0.001 and no rate-limit headers, forever
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(429, headers={"Retry-After": "0.001"}, json={"errors": [{"message": "slow down"}]})

    sleeps: list[float] = []
    client = BuddyClient(
        "https://api.example.test",
        TOKEN,
        ClientSettings(retry=RetryPolicy(max_wait=5)),
        transport=httpx.MockTransport(handler),
        clocks=Clocks(sleep=sleeps.append),
    )
    with client, pytest.raises(RateLimitedError, match="past the cap of 5 s") as caught:
        client.list_pipelines("acme", "web")
    assert "BUDDY_MAX_RATE_LIMIT_WAIT" in str(caught.value)
    waits = [s for s in sleeps if s >= 0.5]
    assert waits and all(s >= 1.0 for s in waits) and sum(waits) <= 5
    assert len(seen) <= 6  # about one request a second, not twenty


def test_the_rate_limit_cap_counts_the_wall_time_spent_on_429s_not_only_the_waits_asked():
    now = [0.0]

    def handler(request: httpx.Request) -> httpx.Response:
        now[0] += 2.0  # each 429 takes two seconds to arrive (a slow proxy)
        return httpx.Response(429, headers={"Retry-After": "0"})

    client = BuddyClient(
        "https://api.example.test",
        TOKEN,
        ClientSettings(retry=RetryPolicy(max_wait=10)),
        transport=httpx.MockTransport(handler),
        clocks=Clocks(sleep=lambda s: now.__setitem__(0, now[0] + s), clock=lambda: now[0]),
    )
    with client, pytest.raises(RateLimitedError, match="past the cap of 10 s"):
        client.list_pipelines("acme", "web")
    assert now[0] <= 10 + 2 + 1  # stopped within one request of the cap


def test_a_sandbox_storm_of_429s_asking_for_no_wait_at_all_is_paced_at_the_floor_and_capped(sandbox_server):
    sandbox_server.app.set_faults({"kind": "rate_limit", "retry_after": 0})  # every request, forever
    sleeps: list[float] = []
    client = BuddyClient(
        sandbox_server.url,
        sandbox_server.token,
        ClientSettings(retry=RetryPolicy(max_wait=3)),
        clocks=Clocks(sleep=sleeps.append),
    )
    with client, pytest.raises(RateLimitedError, match=r"past the cap of 3 s \(BUDDY_MAX_RATE_LIMIT_WAIT"):
        client.list_pipelines("acme", "web")
    waits = [s for s in sleeps if s >= 0.5]
    assert len(waits) == 3 and all(s >= 1.0 for s in waits)
    assert client.requests["GET"] == 4  # not hundreds
