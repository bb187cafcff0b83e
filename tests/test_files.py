"""Config files are found and read safely: special files never block, endless files are never read."""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from reconciler.cli.main import main
from reconciler.config.files import MAX_CONFIG_BYTES, read_config_bytes, scan
from reconciler.config.loader import LoadResult, load_paths
from reconciler.errors import LoadError

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and /dev/zero")

CONFIG = "workspace: acme\nproject: web\npipelines:\n  - name: P\n    actions: []\n"
T = TypeVar("T")


def without_hanging(call: Callable[[], T]) -> T:
    """Run ``call`` in a thread and fail (rather than hang the suite) if it never returns."""
    box: list[T] = []
    worker = threading.Thread(target=lambda: box.append(call()), daemon=True)
    worker.start()
    worker.join(30)
    assert not worker.is_alive(), "the call blocked"
    return box[0]


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    """A config directory holding a good config beside a FIFO, a link to /dev/zero and a dangling link."""
    (tmp_path / "web.yml").write_text(CONFIG, encoding="utf-8")
    os.mkfifo(tmp_path / "fifo.yml")
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    (tmp_path / "gone.yml").symlink_to(tmp_path / "missing.yml")
    return tmp_path


def test_a_scan_passes_over_fifos_devices_and_dangling_links(hostile: Path) -> None:
    found = scan(hostile)
    assert found.files == [hostile / "web.yml"]
    assert found.special == [hostile / "fifo.yml", hostile / "gone.yml", hostile / "zero.yaml"]


def test_loading_a_directory_with_special_files_neither_hangs_nor_reads_them(hostile: Path) -> None:
    result: LoadResult = without_hanging(lambda: load_paths([hostile]))
    assert [doc.file for doc in result.documents] == [str(hostile / "web.yml")]
    assert result.problems == []
    assert sorted(result.skipped) == sorted(str(hostile / name) for name in ("fifo.yml", "gone.yml", "zero.yaml"))


def test_a_link_to_a_regular_file_is_read_like_the_file(tmp_path: Path) -> None:
    (tmp_path / "real.txt").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "web.yml").symlink_to(tmp_path / "real.txt")
    assert [doc.data["project"] for doc in load_paths([tmp_path]).documents] == ["web"]


def test_a_link_to_a_directory_is_scanned_like_the_directory_once_and_without_looping(tmp_path: Path) -> None:
    # left unread, its configs' pipelines would look undeclared and prune_pipelines would delete them
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "web.yml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "team").symlink_to(tmp_path / "real")
    (tmp_path / "cfg" / "team" / "loop").symlink_to(tmp_path / "cfg")  # through the link: back up
    assert scan(tmp_path / "cfg").files == [tmp_path / "cfg" / "team" / "web.yml"]
    assert [doc.file for doc in load_paths([tmp_path]).documents] == [str(tmp_path / "cfg" / "team" / "web.yml")]


@pytest.mark.parametrize(("name", "kind"), [("fifo.yml", "a FIFO"), ("zero.yaml", "a character device")])
def test_a_special_file_named_on_the_command_line_is_refused(hostile: Path, name: str, kind: str) -> None:
    result: LoadResult = without_hanging(lambda: load_paths([hostile / name]))
    assert [p.message for p in result.problems] == [f"not a regular file ({kind}); a config file must be one"]
    assert result.documents == []


def test_a_file_over_the_size_cap_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "big.yml"
    with big.open("wb") as handle:  # sparse: costs no disk and, refused by its size, no memory
        handle.truncate(MAX_CONFIG_BYTES + 1)
    (problem,) = load_paths([tmp_path]).problems
    assert problem.severity == "error" and "larger than 16 MiB" in problem.message


def test_the_read_is_bounded_even_when_the_size_on_record_is_small(tmp_path: Path) -> None:
    file = tmp_path / "c.yml"
    file.write_bytes(b"x" * 101)
    with pytest.raises(LoadError, match="larger than"):
        read_config_bytes(file, limit=100)
    assert read_config_bytes(file, limit=101) == b"x" * 101


def test_validate_names_the_special_files_it_skipped_with_verbose(hostile: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = without_hanging(lambda: main(["validate", "-v", str(hostile)], out=out, err=err))
    assert code == 0
    assert str(hostile / "fifo.yml") in err.getvalue() and str(hostile / "zero.yaml") in err.getvalue()


def test_a_path_that_is_not_a_regular_file_is_described_as_what_it_is(tmp_path: Path) -> None:
    from reconciler.config.files import describe_missing, not_a_regular_file

    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "dangling").symlink_to("gone")
    assert describe_missing(tmp_path / "nope") == "no such file or directory"
    assert describe_missing(tmp_path / "loop") == "a symlink loop (the link never reaches a file)"
    assert describe_missing(tmp_path / "dangling") == "a symlink to gone, which does not exist"
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "file").write_text("x", encoding="utf-8")
    assert not_a_regular_file(tmp_path / "fifo") == "a FIFO, not a regular file"
    assert not_a_regular_file(tmp_path) == "a directory, not a regular file"
    assert not_a_regular_file(tmp_path / "loop") == describe_missing(tmp_path / "loop")
    assert not_a_regular_file(tmp_path / "file") is None


def test_an_editors_lock_link_is_passed_over_without_a_word(tmp_path: Path) -> None:
    (tmp_path / "web.yml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / ".#web.yml").symlink_to("root@host.1234:1700000000")  # Emacs, while web.yml is edited
    assert scan(tmp_path).files == [tmp_path / "web.yml"] and scan(tmp_path).special == []
