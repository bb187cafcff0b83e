"""Pacing from the API's rate budget, and how long a 429 asks to wait."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from reconciler.buddy.ratelimit import BUDGET_RESERVE, Budget, Pacer, asked_wait

NOW = 1_700_000_000.0


def pacer(now: list[float], sleeps: list[float], notices: list[str], max_wait: float = 600.0) -> Pacer:
    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    return Pacer(sleep=sleep, clock=lambda: now[0], wall_clock=lambda: now[0], notice=notices.append, max_wait=max_wait)


def test_a_budget_says_nothing_until_an_answer_tells_it():
    assert Budget().hold(NOW) == 0.0


def test_within_one_window_the_smallest_remaining_wins_whatever_the_order_of_answers():
    budget = Budget()
    reset = str(int(NOW) + 10)
    for remaining in ("7", "3", "5"):
        budget.observe(remaining, reset)
    assert budget.remaining == 3


def test_a_later_window_replaces_the_budget_and_an_earlier_one_is_ignored():
    budget = Budget()
    budget.observe("1", str(int(NOW) + 10))
    budget.observe("300", str(int(NOW) + 15))
    budget.observe("0", str(int(NOW) + 10))  # a late answer from the spent window
    assert (budget.remaining, budget.reset) == (300, NOW + 15)


def test_missing_or_malformed_headers_leave_the_budget_as_it_was():
    budget = Budget()
    budget.observe("9", str(int(NOW) + 10))
    for remaining, reset in ((None, "1"), ("1", None), ("lots", "1"), ("1", "soon"), ("1", "inf")):
        budget.observe(remaining, reset)
    assert (budget.remaining, budget.reset) == (9, NOW + 10)


def test_requests_in_flight_count_against_what_remains():
    budget = Budget()
    budget.observe(str(BUDGET_RESERVE + 3), str(int(NOW) + 10))
    budget.flying = 2
    assert budget.hold(NOW) == 0.0
    budget.flying = 3
    assert budget.hold(NOW) == 10.0
    assert budget.hold(NOW + 11) == 0.0  # past the reset: send, the next answer tells the new budget


def test_the_pacer_holds_until_the_reset_announces_it_and_counts_what_it_sends():
    now, sleeps, notices = [NOW], [], []
    pace = pacer(now, sleeps, notices)
    pace.depart("GET")
    pace.land({"X-Rate-Limit-Remaining": "2", "X-Rate-Limit-Reset": str(int(NOW) + 30)})
    pace.depart("POST")
    assert sleeps == [30.0]
    assert notices == ["rate limit nearly reached: waiting 30 s for the API's budget to reset"]
    assert dict(pace.sent) == {"GET": 1, "POST": 1}


def test_the_pacer_does_not_hold_longer_than_the_cap():
    now, sleeps, notices = [NOW], [], []
    pace = pacer(now, sleeps, notices, max_wait=60.0)
    pace.depart("GET")
    pace.land({"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": str(int(NOW) + 3600)})
    pace.depart("GET")
    assert sleeps == [] and notices == []


def test_an_attempt_without_an_answer_leaves_flight_and_tells_nothing():
    sleeps: list[float] = []
    pace = Pacer(sleep=sleeps.append, clock=lambda: NOW, wall_clock=lambda: NOW, notice=None, max_wait=600)
    pace.depart("GET")
    pace.land({"X-Rate-Limit-Remaining": "10", "X-Rate-Limit-Reset": str(int(NOW) + 30)})
    for _ in range(10 - BUDGET_RESERVE):
        pace.depart("GET")
    pace.land(None)  # one of them lost its connection: one more may go
    pace.depart("GET")
    assert sleeps == []
    pace.depart("GET")  # the budget no longer covers those in flight and the reserve
    assert sleeps == [30.0]


def test_many_threads_held_at_once_are_announced_once():
    now, sleeps, notices = [NOW], [], []
    lock = threading.Lock()

    def sleep(seconds: float) -> None:  # every thread waits the same reset out; the clock stays put
        with lock:
            sleeps.append(seconds)

    pace = Pacer(sleep=sleep, clock=lambda: now[0], wall_clock=lambda: now[0], notice=notices.append, max_wait=600)
    pace.depart("GET")
    pace.land({"X-Rate-Limit-Remaining": "1", "X-Rate-Limit-Reset": str(int(NOW) + 20)})
    threads = [threading.Thread(target=pace.depart, args=("GET",)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sleeps == [20.0] * 8 and len(notices) == 1 and pace.sent["GET"] == 9


def test_a_429_asks_in_seconds_in_an_http_date_or_through_the_reset():
    assert asked_wait({"Retry-After": "7"}, NOW) == 7.0
    assert asked_wait({"Retry-After": "Tue, 14 Nov 2023 22:13:40 GMT"}, NOW) == 20.0
    assert asked_wait({"X-Rate-Limit-Reset": str(int(NOW) + 12)}, NOW) == 12.0
    assert asked_wait({"X-Rate-Limit-Reset": "5"}, NOW) == 5.0  # a small number: seconds from now
    assert asked_wait({"Retry-After": "-3"}, NOW) == 0.0


def test_a_429_that_asks_nothing_readable_asks_nothing():
    assert asked_wait({}, NOW) is None
    assert asked_wait({"X-Rate-Limit-Reset": "later"}, NOW) is None
    assert asked_wait({"Retry-After": "nan"}, NOW) is None
    assert asked_wait({"Retry-After": "whenever"}, NOW) is None


def wait_until(condition: Callable[[], bool]) -> None:
    """Synchronise with another thread (not a timing assertion: generous, and only a failure's cost)."""
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "the other thread never got there"
        time.sleep(0.001)


@pytest.mark.parametrize(
    "answer",
    [{"X-Rate-Limit-Remaining": "100", "X-Rate-Limit-Reset": str(int(NOW) + 60)}, {}],
    ids=["the answer tells the budget", "the API tells no budget"],
)
def test_while_the_budget_is_unknown_one_attempt_goes_alone_until_its_answer(answer):
    now, sleeps, notices = [NOW], [], []
    pace = pacer(now, sleeps, notices)
    pace.depart("GET")  # the first attempt of a run: it learns the budget
    second = threading.Thread(target=pace.depart, args=("GET",))
    second.start()
    wait_until(lambda: pace.waiting == 1)
    assert pace.sent["GET"] == 1
    pace.land(answer)
    second.join(timeout=10)
    assert not second.is_alive() and pace.sent["GET"] == 2 and sleeps == []
    pace.depart("GET")  # known (or never told): no one waits any more
    assert pace.waiting == 0 and pace.sent["GET"] == 3


def test_after_a_429_or_past_the_reset_the_next_answer_tells_the_budget_again():
    now, sleeps, notices = [NOW], [], []
    pace = pacer(now, sleeps, notices)
    pace.depart("GET")
    pace.land({"X-Rate-Limit-Remaining": "100", "X-Rate-Limit-Reset": str(int(NOW) + 5)})
    pace.depart("GET")
    pace.depart("GET")  # the budget is known: both are out together
    assert pace.waiting == 0
    now[0] += 6  # past the reset: what was left is not what is left now
    third = threading.Thread(target=pace.depart, args=("GET",))
    third.start()
    wait_until(lambda: pace.waiting == 1)
    pace.land({"X-Rate-Limit-Remaining": "300", "X-Rate-Limit-Reset": str(int(NOW) + 11)})
    third.join(timeout=10)
    assert pace.sent["GET"] == 4
    pace.forget()  # a 429 was waited out
    fourth = threading.Thread(target=pace.depart, args=("GET",))
    fourth.start()
    wait_until(lambda: pace.waiting == 1)
    pace.land(None)  # no answer: the waiting attempt goes and learns it itself
    pace.land(None)
    fourth.join(timeout=10)
    assert pace.sent["GET"] == 5 and pace.waiting == 0
