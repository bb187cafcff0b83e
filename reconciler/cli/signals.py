"""Signals during a command: the first SIGINT or SIGTERM stops, a second one exits at once."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from typing import TextIO

from reconciler.errors import InterruptedBeforeChanges

#: the exit code of an apply stopped by SIGINT or SIGTERM (128 + SIGINT, as shells report Ctrl-C)
INTERRUPTED_EXIT = 130


@contextlib.contextmanager
def stop_on_signals(err: TextIO, writing: threading.Event, *, final: bool = False) -> Iterator[threading.Event]:
    """Until ``writing`` is set (the first write is next), the first SIGINT or SIGTERM stops at once:
    ``InterruptedBeforeChanges`` is raised in the main thread (reading live state, at the question).
    After it, the first one sets the event (apply starts no new change, lets those in flight finish,
    then reports); a second one exits at once with 130. Handlers are restored after, except when
    ``final`` (the process ends with this command) and a signal came: then another one exits at once
    with 130 while the last message is written and the interpreter shuts down, never a traceback."""
    from reconciler.cli import console  # now: the handler imports nothing

    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop  # signals reach only the main thread: nothing to install (a library caller)
        return

    def handle(signum: int, _frame: object) -> None:
        if not writing.is_set() and not stop.is_set():
            stop.set()
            name = signal.Signals(signum).name
            raise InterruptedBeforeChanges(f"{name}: interrupted before any change was made: nothing was changed")
        if stop.is_set():
            with contextlib.suppress(Exception):
                fresh = "\n" if console.is_terminal(err) else ""
                err.write(f"{fresh}interrupted again: exiting now; changes in flight may or may not have been made\n")
                err.flush()
            os._exit(INTERRUPTED_EXIT)  # at once: the threads in flight are not waited for
        stop.set()
        name = signal.Signals(signum).name
        fresh = "\n" if console.is_terminal(err) else ""  # a progress bar or ^C ends the line on a terminal
        with contextlib.suppress(Exception):
            err.write(
                f"{fresh}{name}: stopping: no new change is started; the requests in flight finish "
                "(send it again to exit at once)\n"
            )
            err.flush()

    def exit_now(_signum: int, _frame: object) -> None:
        with contextlib.suppress(Exception):
            err.flush()
        os._exit(INTERRUPTED_EXIT)

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, exit_now if final and stop.is_set() else old)
