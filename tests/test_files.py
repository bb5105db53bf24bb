"""core/files.py: what a path that is not a readable file is, in words for messages."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

from nginxgen.core.files import file_kind, not_a_file


def test_each_kind_of_special_file_is_named() -> None:
    assert file_kind(stat.S_IFDIR | 0o755) == "a directory"
    assert file_kind(stat.S_IFIFO | 0o644) == "a named pipe (FIFO)"
    assert file_kind(stat.S_IFSOCK | 0o644) == "a socket"
    assert file_kind(stat.S_IFCHR | 0o644) == "a character device"
    assert file_kind(stat.S_IFBLK | 0o644) == "a block device"
    assert file_kind(stat.S_IFLNK | 0o777) == "a special file"


def test_a_missing_path_and_a_dangling_link_are_told_apart(tmp_path: Path) -> None:
    assert not_a_file(tmp_path / "absent.yaml") == "no such file"
    (tmp_path / "link.yaml").symlink_to(tmp_path / "absent.yaml")
    assert not_a_file(tmp_path / "link.yaml") == ("a symbolic link to a file that does not exist")


def test_real_special_files_are_named_by_what_they_are(tmp_path: Path) -> None:
    assert not_a_file(tmp_path) == "a directory, not a file"
    os.mkfifo(tmp_path / "pipe.yaml")
    assert not_a_file(tmp_path / "pipe.yaml") == "a named pipe (FIFO), not a file"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "s.yaml"))
        assert not_a_file(tmp_path / "s.yaml") == "a socket, not a file"
    assert not_a_file(Path("/dev/null")) == "a character device, not a file"


def test_a_path_below_a_file_gives_the_systems_reason(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    assert not_a_file(tmp_path / "file" / "below.yaml") == "Not a directory"
