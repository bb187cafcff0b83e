"""Finding and reading config files, safely, whatever the tree holds.

A repository is not always friendly: Git stores symlinks, so a pull request can put a link to
``/dev/zero`` (endless) or a FIFO (blocks on open) where a config file is expected, and CI or a
pre-commit hook would then hang or fill memory. So a file is opened without blocking, checked to be a
regular file (after following symlinks) and no bigger than :data:`MAX_CONFIG_BYTES` before anything is
read, and read with a bounded read all the same (a file may grow between the check and the read).
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.errors import LoadError
from reconciler.problems import Location

#: File name endings read in a directory scan.
YAML_SUFFIXES = (".yml", ".yaml")
#: The largest config file read. The 10,000-action benchmark is about 3 MiB; a file past this cap is far
#: more likely a mistake (or an attack) than a configuration.
MAX_CONFIG_BYTES = 16 * 1024 * 1024
_CHUNK = 1024 * 1024


@dataclass
class Scan:
    """What a directory scan found: regular YAML files in sorted order, and what it could not read,
    which is passed over: the YAML-named entries that are not regular files (FIFOs, devices), any
    link that leads nowhere (dangling or looping: it may stand for a folder not checked out) and any
    directory it could not enter. Whatever ``special`` holds might have declared pipelines."""

    files: list[Path] = field(default_factory=list)
    special: list[Path] = field(default_factory=list)


def scan(root: Path) -> Scan:
    """YAML files under ``root``, sorted by their path relative to it, dot-directories left out.

    Symlinks are followed (a link to a regular file is read like the file, a link to a directory
    scanned like one: a config left unread would look undeclared, and ``prune_pipelines`` would delete
    its pipelines); a directory already scanned is not scanned again, so a link cannot make the scan
    loop or read a file twice."""
    found: list[tuple[tuple[str, ...], Path]] = []
    special: list[tuple[tuple[str, ...], Path]] = []
    visited: set[str] = set()

    def unreadable(exc: OSError) -> None:
        where = Path(exc.filename) if exc.filename else root
        special.append((_parts(where, root), where))

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in visited:
            dirnames[:] = []
            continue
        visited.add(real)
        # Pruning in place stops os.walk from descending into .git, .github, .venv and the like.
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        base = Path(dirpath)
        for name in filenames:
            if name.startswith(".#"):  # an editor's lock (a link to "user@host.pid"), never a file of ours
                continue
            file = base / name
            entry = (file.relative_to(root).parts, file)
            if name.lower().endswith(YAML_SUFFIXES):  # `web.YML` too
                (found if _is_regular(file) else special).append(entry)
            elif os.path.islink(file) and not os.path.exists(file):
                special.append(entry)
    found.sort(key=lambda item: item[0])
    special.sort(key=lambda item: item[0])
    return Scan([file for _, file in found], [file for _, file in special])


def _parts(path: Path, root: Path) -> tuple[str, ...]:
    try:
        return path.relative_to(root).parts
    except ValueError:
        return path.parts


def enclosing_folders(path: Path, top: Path) -> list[Path]:
    """The folders above ``path`` whose defaults files reach it, outermost first: from ``top`` (the
    current directory, usually the repository root) down to the folder holding ``path`` (for a
    directory: down to its parent; the scan of the directory itself finds its own). Only ``path``'s
    own folder when it lies outside ``top``."""
    here = path.resolve()
    folder = here.parent
    top = top.resolve()
    if folder != top and top not in folder.parents:
        return [folder] if not here.is_dir() else []
    chain = [folder]
    while folder != top:
        folder = folder.parent
        chain.append(folder)
    return list(reversed(chain))


def yaml_files_in(folder: Path) -> list[Path]:
    """The regular YAML files directly in ``folder`` (no dot-files), sorted by name."""
    try:
        names = sorted(entry.name for entry in os.scandir(folder))
    except OSError:
        return []
    return [
        folder / name
        for name in names
        if name.lower().endswith(YAML_SUFFIXES) and not name.startswith(".") and _is_regular(folder / name)
    ]


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:  # a dangling or looping link: nothing to read
        return False


def read_config_bytes(path: Path, limit: int = MAX_CONFIG_BYTES, what: str = "a config file") -> bytes:
    """The bytes of the regular file ``path`` (symlinks followed).

    Raises :class:`LoadError` (located at the file) when it is not a regular file, is larger than
    ``limit`` bytes, or cannot be read. Never blocks on a FIFO and never reads more than ``limit + 1``
    bytes. ``what`` names the file's kind in messages ("a plan file")."""
    where = Location(str(path), 1, 1)
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise LoadError(f"cannot read the file: {exc.strerror}", where) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise LoadError(f"not a regular file ({_kind(info.st_mode)}); {what} must be one", where)
        if info.st_size > limit:
            raise LoadError(_too_big(info.st_size, limit, what), where)
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise LoadError(_too_big(size, limit, what), where)
        return b"".join(chunks)
    except OSError as exc:
        raise LoadError(f"cannot read the file: {exc.strerror}", where) from None
    finally:
        os.close(fd)


def describe_missing(path: Path) -> str:
    """What stands at a path that cannot be followed to anything: a symlink loop and a dangling symlink
    are named as such (the OS reports both as "no such file"), anything else is missing."""
    if is_symlink_loop(path):
        return "a symlink loop (the link never reaches a file)"
    if os.path.islink(path) and not os.path.exists(path):
        return f"a symlink to {os.readlink(path)}, which does not exist"
    return "no such file or directory"


def is_symlink_loop(path: Path) -> bool:
    try:
        os.stat(path)
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


def not_a_regular_file(path: Path) -> str | None:
    """``None`` for a regular file (symlinks followed); otherwise what the path is, for a message."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return describe_missing(path)
    return None if stat.S_ISREG(mode) else f"{_kind(mode)}, not a regular file"


def _too_big(size: int, limit: int, what: str) -> str:
    return (
        f"the file is larger than {limit / (1024 * 1024):g} MiB ({size:,} bytes or more); "
        f"{what} that big is refused unread"
    )


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "a special file"
