"""The one atomic writer: whole or not at all, through a symlink, the mode kept, flushed to disk."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from reconciler import atomic


def test_a_file_behind_a_symlink_is_replaced_with_its_mode_and_the_link_stays(tmp_path: Path) -> None:
    target = tmp_path / "real.yml"
    target.write_text("old\n", encoding="utf-8")
    target.chmod(0o600)
    link = tmp_path / "link.yml"
    link.symlink_to(target)
    atomic.write_file(link, "new\n")
    assert link.is_symlink() and target.read_text(encoding="utf-8") == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["link.yml", "real.yml"]


def test_the_text_reaches_the_disk_before_the_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    order: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (order.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (order.append("replace"), real_replace(a, b))[1])
    atomic.write_file(tmp_path / "deep" / "new.yml", "a\r\nb\n")
    assert order == ["fsync", "replace"]
    assert (tmp_path / "deep" / "new.yml").read_bytes() == b"a\r\nb\n"


def test_a_directory_is_refused_and_nothing_is_left_behind(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError):
        atomic.write_file(tmp_path, "x")
    assert os.listdir(tmp_path) == []


def test_an_interrupt_during_the_write_leaves_the_old_file_whole_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "web.yml"
    target.write_text("old\n", encoding="utf-8")

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic.write_file(target, "new\n" * 1000)
    assert target.read_text(encoding="utf-8") == "old\n"
    assert os.listdir(tmp_path) == ["web.yml"]


def test_without_replace_a_file_that_exists_is_left_as_it_is(tmp_path: Path) -> None:
    target = tmp_path / "web.yml"
    target.write_text("mine\n", encoding="utf-8")
    with pytest.raises(FileExistsError):
        atomic.write_file(target, "new\n", replace=False)
    assert target.read_text(encoding="utf-8") == "mine\n"
    assert os.listdir(tmp_path) == ["web.yml"]
    atomic.write_file(tmp_path / "new.yml", "new\n", replace=False)
    assert (tmp_path / "new.yml").read_text(encoding="utf-8") == "new\n"
    assert stat.S_IMODE((tmp_path / "new.yml").stat().st_mode) == atomic._default_mode()
