"""The client's own logic through httpx.MockTransport: retries, rate limits, pagination, errors."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from reconciler.client import PER_PAGE, BuddyClient, RetryPolicy, check_base_url
from reconciler.errors import AuthError, ForbiddenError, ServerError, TransportError, UsageError

TOKEN = "secret-token-value-123"
Handler = Callable[[httpx.Request], httpx.Response]


def make(handler: Handler, sleeps: list[float] | None = None, **kw) -> BuddyClient:
    record = sleeps if sleeps is not None else []
    return BuddyClient(
        "https://api.example.test",
        TOKEN,
        transport=httpx.MockTransport(handler),
        sleep=record.append,
        retry=RetryPolicy(attempts=4, base_delay=0.01),
        **kw,
    )


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


def test_a_missing_token_is_a_usage_error():
    with pytest.raises(UsageError, match="BUDDY_TOKEN"):
        BuddyClient("https://api.buddy.works", "")


def test_the_token_is_sent_as_a_bearer_header():
    handler, seen = scripted(httpx.Response(200, json={"pipelines": []}))
    with make(handler) as client:
        client.list_pipelines("acme", "web")
    assert seen[0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_pages_are_read_until_one_is_shorter_than_per_page():
    full = {"pipelines": [{"id": i} for i in range(PER_PAGE)]}
    handler, seen = scripted(httpx.Response(200, json=full), httpx.Response(200, json={"pipelines": [{"id": -1}]}))
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
