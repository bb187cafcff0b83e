"""What a person sees while a command runs: the approval prompt, and progress that names the work.

The library never prints: apply reports through the ``Progress`` protocol (``apply.py``) and the client
announces rate-limit waits through its ``notice`` callback. A view turns both into output, and is the
one place that knows whether a person is watching:

* ``TerminalView`` (stderr is a terminal): a status line while live state is read, then a bar with
  n/N and the change in hand, finished changes printed above it, rate-limit waits shown in place.
* ``LineView`` (CI, a pipe, a file): one line per change as it completes, flushed at once.
* ``QuietView`` (``-q``): nothing.

Server text reaches the screen only as ``rich.text.Text`` (never parsed as markup) with Rich's
automatic highlighting off, after ``render.printable`` has escaped its control characters.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, TextIO

from reconciler import render

if TYPE_CHECKING:  # apply brings the client (httpx): validate needs neither
    from reconciler.apply import Outcome
    from reconciler.plan.plan import Change

QUESTION = (
    "\nDo you want to perform these actions?\n"
    "  reconcile will perform the actions described above.\n"
    "  Only 'yes' will be accepted to approve.\n\n"
    "  Enter a value: "
)
CANCELLED = "Apply cancelled."
#: the colour of an outcome's line above the bar
_STATUS_STYLE = {"applied": "green", "failed": "bold red", "uncertain": "bold magenta", "not tried": "yellow"}


def is_terminal(stream: Any) -> bool:
    """Whether ``stream`` is a terminal (a person is there); a closed or fake stream is not."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def ask_approval(inp: TextIO, out: TextIO) -> bool:
    """Ask as Terraform does; only ``yes`` approves. End of input (Ctrl-D) is a no."""
    out.write(QUESTION)
    out.flush()
    answer = inp.readline()
    if not answer.endswith("\n"):
        out.write("\n")  # Ctrl-D leaves the cursor after the question
    return answer.strip() == "yes"


class QuietView:
    """``-q``: progress and notices are not shown (errors still are, by the CLI)."""

    def __enter__(self) -> QuietView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reading(self, text: str) -> None:
        """Live state is being read (``text`` says what)."""

    def pause(self) -> None:
        """Something else is about to print (the plan, the question): clear the status line."""

    def notice(self, text: str) -> None:
        """A client announcement (a rate-limit wait)."""

    def start(self, total: int) -> None:
        """The first write is next; ``total`` changes will be made."""

    def begin(self, change: Change) -> None:
        """``change`` is being made."""

    def done(self, outcome: Outcome) -> None:
        """A change finished (applied, failed, uncertain) or was not tried."""

    def finish(self) -> None:
        """Every change has an outcome."""

    def close(self) -> None:
        """Leave the terminal clean, whatever happened."""


class LineView(QuietView):
    """Off a terminal: one line per finished change, ``[n/N]`` first, flushed (CI logs show it live)."""

    def __init__(self, err: TextIO) -> None:
        self.err = err
        self.lock = threading.Lock()
        self.total = 0
        self.count = 0

    def _line(self, text: str) -> None:
        with self.lock:
            self.err.write(text + "\n")
            self.err.flush()

    def notice(self, text: str) -> None:
        self._line(render.printable(text))

    def start(self, total: int) -> None:
        self.total = total
        self._line(f"Applying {total} change{'s' if total != 1 else ''}:")

    def done(self, outcome: Outcome) -> None:
        with self.lock:
            self.count += 1
            count = self.count
        self._line(f"[{count}/{self.total}] {render.describe_outcome(outcome)}")


class TerminalView(QuietView):
    """On a terminal: a status line while live state is read, then a bar naming the change in hand."""

    def __init__(self, err: TextIO) -> None:
        from rich.console import Console

        self.console = Console(file=err, highlight=False)
        self.lock = threading.Lock()
        self.status: Any = None
        self.bar: Any = None
        self.task: Any = None
        self.in_hand: dict[int, Change] = {}

    @staticmethod
    def _text(text: str, style: str = "") -> Any:
        from rich.text import Text

        return Text(render.printable(text), style=style)

    def reading(self, text: str) -> None:
        self.pause()
        self.status = self.console.status(self._text(text))
        self.status.start()

    def pause(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None

    def notice(self, text: str) -> None:
        with self.lock:
            if self.bar is not None:
                self.bar.update(self.task, description=render.printable(f"waiting: {text}"))
                return
            if self.status is not None:
                self.status.update(self._text(text, "yellow"))
                return
        self.console.print(self._text(text, "yellow"))

    def log(self, text: str) -> None:
        """A log line (``-v``) printed above the status line or the bar, never through them."""
        with self.lock:
            self.console.print(self._text(text, "dim"))

    def start(self, total: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

        self.pause()
        self.bar = Progress(
            SpinnerColumn(),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}", markup=False),
            console=self.console,
            transient=True,
        )
        self.task = self.bar.add_task("", total=total)
        self.bar.start()

    def _describe_in_hand(self) -> str:
        if not self.in_hand:
            return ""
        latest = list(self.in_hand.values())[-1]
        more = len(self.in_hand) - 1
        return render.describe_progress(latest) + (f" (and {more} more)" if more else "")

    def begin(self, change: Change) -> None:
        with self.lock:
            self.in_hand[id(change)] = change
            if self.bar is not None:
                self.bar.update(self.task, description=self._describe_in_hand())

    def done(self, outcome: Outcome) -> None:
        with self.lock:
            self.in_hand.pop(id(outcome.change), None)
            if self.bar is None:
                return
            style = _STATUS_STYLE.get(outcome.status, "")
            self.bar.console.print(self._text(render.describe_outcome(outcome), style))
            self.bar.update(self.task, advance=1, description=self._describe_in_hand())

    def finish(self) -> None:
        with self.lock:
            if self.bar is not None:
                self.bar.stop()
                self.bar = None

    def close(self) -> None:
        self.pause()
        self.finish()


def view_for(err: TextIO, *, quiet: bool) -> QuietView:
    """The view for this run: nothing with ``-q``, a bar on a terminal, lines otherwise."""
    if quiet:
        return QuietView()
    return TerminalView(err) if is_terminal(err) else LineView(err)
