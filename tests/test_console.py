"""What a person sees while apply runs: the question, the bar on a terminal, lines in CI."""

from __future__ import annotations

import io
import re

import pytest

from reconciler.apply import Outcome
from reconciler.cli import console
from reconciler.plan.changes import CreateAction, UpdateAction

COMMON = {"workspace": "acme", "project": "web", "pipeline": "Release images", "pipeline_id": 7}
CREATE = CreateAction(action_name="Build app image", **COMMON)
UPDATE = UpdateAction(action_name="Build worker image", action_id=42, **COMMON)


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class Flushes(io.StringIO):
    """A stream that remembers what had been written at each flush."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed: list[str] = []

    def flush(self) -> None:
        self.flushed.append(self.getvalue())


@pytest.mark.parametrize(("answer", "approved"), [("yes\n", True), ("  yes \n", True), ("no\n", False), ("y\n", False)])
def test_only_yes_approves(answer: str, approved: bool) -> None:
    out = io.StringIO()
    assert console.ask_approval(io.StringIO(answer), out) is approved
    assert "Do you want to perform these actions?" in out.getvalue()
    assert "Only 'yes' will be accepted to approve." in out.getvalue()


def test_end_of_input_is_a_no_and_ends_the_line() -> None:
    out = io.StringIO()
    assert console.ask_approval(io.StringIO(""), out) is False
    assert out.getvalue().endswith("Enter a value: \n")


def test_the_view_is_quiet_with_q_a_bar_on_a_terminal_and_lines_elsewhere() -> None:
    assert type(console.view_for(Terminal(), quiet=True)) is console.QuietView
    assert isinstance(console.view_for(Terminal(), quiet=False), console.TerminalView)
    assert isinstance(console.view_for(io.StringIO(), quiet=False), console.LineView)
    assert console.is_terminal(Terminal()) and not console.is_terminal(io.StringIO())
    assert not console.is_terminal(object())


def test_off_a_terminal_each_finished_change_is_one_numbered_line_flushed_at_once() -> None:
    err = Flushes()
    with console.LineView(err) as view:
        view.reading("reading live state…")
        view.start(2)
        view.begin(CREATE)
        view.done(Outcome(CREATE, "applied", object_id=101))
        view.begin(UPDATE)
        view.done(Outcome(UPDATE, "failed", "400 cache_mode: bad"))
        view.finish()
    assert err.getvalue().splitlines() == [
        "Applying 2 changes:",
        '[1/2] created "Build app image" (#101) in acme/web "Release images"',
        '[2/2] failed: update "Build worker image" (#42) in acme/web "Release images": 400 cache_mode: bad',
    ]
    assert err.flushed[-1] == err.getvalue()  # the last line was flushed before anything else happened
    assert len(err.flushed) == 3


def test_off_a_terminal_a_rate_limit_wait_is_a_line() -> None:
    err = io.StringIO()
    console.LineView(err).notice("rate limited by the API: waiting 5 s")
    assert err.getvalue() == "rate limited by the API: waiting 5 s\n"


def test_on_a_terminal_the_bar_names_the_change_in_hand_and_shows_waits_in_place() -> None:
    view = console.TerminalView(Terminal())
    with view:
        view.start(2)
        view.begin(CREATE)
        assert view.bar.tasks[0].description == 'creating "Build app image" in acme/web "Release images"'
        view.begin(UPDATE)
        assert view.bar.tasks[0].description.endswith("(and 1 more)")
        view.notice("rate limited by the API: waiting 5 s")
        assert view.bar.tasks[0].description == "waiting: rate limited by the API: waiting 5 s"
        view.done(Outcome(CREATE, "applied", object_id=101))
        assert view.bar.tasks[0].description == 'updating "Build worker image" (#42) in acme/web "Release images"'
        assert view.bar.tasks[0].completed == 1
        view.done(Outcome(UPDATE, "applied", object_id=42))
    assert view.bar is None and view.status is None  # closed: the terminal is left clean


def test_on_a_terminal_finished_changes_are_printed_above_the_bar_as_text_not_markup() -> None:
    err = Terminal()
    change = CreateAction(action_name="[red]x[/red]", **COMMON)
    with console.TerminalView(err) as view:
        view.start(1)
        view.begin(change)
        view.done(Outcome(change, "failed", "Buddy says \x1b[2J no"))
    text = err.getvalue()
    assert '"[red]x[/red]"' in text
    assert "\\x1b[2J" in text and "\x1b[2J" not in text


def test_on_a_terminal_a_status_line_shows_while_live_state_is_read_and_clears_for_the_plan() -> None:
    view = console.TerminalView(Terminal())
    view.reading("reading live state…")
    assert view.status is not None
    view.notice("rate limited by the API: waiting 5 s")  # shown in the status line, not below it
    view.pause()
    assert view.status is None
    view.close()


def test_on_a_terminal_a_log_line_is_printed_whole_above_the_bar() -> None:
    err = Terminal()
    with console.TerminalView(err) as view:
        view.start(2)
        view.log("GET /workspaces/acme/projects/web/pipelines 200 3ms")
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", err.getvalue())  # colours and cursor moves aside
    assert "GET /workspaces/acme/projects/web/pipelines 200 3ms\n" in shown
