"""One way to write a file the tool produces (a plan file, an imported config file): whole or not at all.

``write_file`` writes a uniquely named temporary file beside the target, flushes it to disk, gives it
the mode the target had (a new file gets ``open``'s: 0666 less the umask) and renames it over the
target, so that a reader never sees half a file and a crash leaves the old one. A symlink (or a chain
of them, or a dangling one) is written through: the file it points at is replaced and the link stays.
A FIFO or a device (``/dev/stdout``) is written straight into, since nothing can be renamed over it.
With ``replace=False`` the file is linked into place only if nothing stands there yet, so a file that
another process wrote after the caller looked is never replaced (``FileExistsError``).
With ``follow=False`` (files the tool names itself, as import's) a symlink is not written through:
the link itself is replaced by the file, so a link planted among them cannot aim a write elsewhere.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path


def write_file(path: Path, text: str, *, replace: bool = True, follow: bool = True) -> None:
    """``text`` (UTF-8, ``\\n`` line ends) into ``path`` as the module says; ``OSError`` when it
    cannot be written (``IsADirectoryError`` for a directory, ``FileExistsError`` for any file when not
    ``replace``), the temporary file then removed."""
    if not follow and os.path.islink(path):
        if not replace:
            raise FileExistsError(errno.EEXIST, "file exists")
        _write_new(path, text, None, replace=True)
        return
    try:
        mode: int | None = os.stat(path).st_mode  # follows symlinks
    except FileNotFoundError:
        mode = None
    if mode is not None and stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "it is a directory")
    if mode is not None and not replace:
        raise FileExistsError(errno.EEXIST, "file exists")
    if mode is not None and not stat.S_ISREG(mode):
        with open(path, "w", encoding="utf-8", newline="\n") as stream:  # a FIFO, a device: no rename over it
            stream.write(text)
        return
    _write_new(Path(os.path.realpath(path)), text, mode, replace=replace)


def _write_new(target: Path, text: str, mode: int | None, *, replace: bool) -> None:
    """A temporary file beside ``target``, written whole and renamed (or linked) over it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(tmp, stat.S_IMODE(mode) if mode is not None else _default_mode())
        _publish(tmp, target, replace=replace)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _publish(tmp: str, target: Path, *, replace: bool) -> None:
    """Put the written ``tmp`` at ``target``: renamed over it, or (not ``replace``) hard-linked, which
    fails when a file got there meanwhile; where there are no hard links, renamed if nothing is there."""
    if replace:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links: the look just before is the best there is
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, "file exists") from None
        os.replace(tmp, target)
        return
    os.unlink(tmp)


def _default_mode() -> int:
    """The mode a new file gets from ``open`` (0666 less the umask), which ``mkstemp``'s 0600 is not."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
