"""Atomic writes and the drift check."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from nginxgen.generation.output import drift, write_atomic


def test_write_atomic_creates_parents_and_writes_the_exact_text(tmp_path: Path) -> None:
    path = tmp_path / "out" / "deeper" / "nginx-ssl.conf"
    write_atomic(path, "server {}\nä\n")
    assert path.read_bytes() == "server {}\nä\n".encode()


def test_write_atomic_writes_unix_newlines_and_a_readable_file(tmp_path: Path) -> None:
    path = tmp_path / "nginx-ssl.conf"
    write_atomic(path, "a\nb\n")
    assert b"\r" not in path.read_bytes()
    # nginx workers read conf.d as another user.
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_write_atomic_replaces_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    path = tmp_path / "nginx-ssl.conf"
    path.write_text("old\n", encoding="utf-8")
    write_atomic(path, "new\n")
    assert path.read_text(encoding="utf-8") == "new\n"
    assert [entry.name for entry in tmp_path.iterdir()] == ["nginx-ssl.conf"]


def test_a_failed_write_keeps_the_old_file_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "nginx-ssl.conf"
    path.write_text("old\n", encoding="utf-8")

    def disk_full(descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(path, "new\n")
    assert path.read_text(encoding="utf-8") == "old\n"
    assert [entry.name for entry in tmp_path.iterdir()] == ["nginx-ssl.conf"]


def test_drift_of_a_missing_file(tmp_path: Path) -> None:
    result = drift(tmp_path / "missing.conf", "text\n", "out/missing.conf")
    assert not result.exists
    assert not result.clean
    assert result.path == "out/missing.conf"


def test_drift_of_an_up_to_date_file(tmp_path: Path) -> None:
    path = tmp_path / "nginx-ssl.conf"
    path.write_text("a\nb\n", encoding="utf-8")
    result = drift(path, "a\nb\n", "out/nginx-ssl.conf")
    assert result.clean
    assert result.diff == ""


def test_drift_of_a_stale_file_is_a_unified_diff(tmp_path: Path) -> None:
    path = tmp_path / "nginx-ssl.conf"
    path.write_text("a\nold\nc\n", encoding="utf-8")
    result = drift(path, "a\nnew\nc\n", "out/nginx-ssl.conf")
    assert result.exists
    assert not result.clean
    lines = result.diff.splitlines()
    assert lines[0] == "--- out/nginx-ssl.conf (committed)"
    assert lines[1] == "+++ out/nginx-ssl.conf (rendered)"
    assert lines[2].startswith("@@")
    assert "-old" in lines
    assert "+new" in lines


def test_drift_notices_a_missing_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "nginx-ssl.conf"
    path.write_text("a\nb", encoding="utf-8")
    assert not drift(path, "a\nb\n", "x").clean
