"""Atomic writes and the drift check."""

from __future__ import annotations

import fcntl
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nginxgen.core.errors import OutputError
from nginxgen.generation import output
from nginxgen.generation.output import drift, sweep_temporaries, write_atomic


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
    with pytest.raises(OutputError, match="No space left"):
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
    assert lines[0] == "--- out/nginx-ssl.conf (on disk)"
    assert lines[1] == "+++ out/nginx-ssl.conf (rendered)"
    assert lines[2].startswith("@@")
    assert "-old" in lines
    assert "+new" in lines


def test_drift_notices_a_missing_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "nginx-ssl.conf"
    path.write_text("a\nb", encoding="utf-8")
    assert not drift(path, "a\nb\n", "x").clean


@pytest.mark.parametrize("anonymous", [True, False], ids=["O_TMPFILE", "named-temporary"])
@pytest.mark.parametrize(
    ("failing", "error"),
    [
        ("write", OSError(28, "No space left on device")),
        ("open", OSError(30, "Read-only file system")),
        ("open", PermissionError(13, "Permission denied")),
    ],
)
def test_a_write_that_fails_names_the_path_and_the_reason_and_keeps_the_old_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    anonymous: bool,
    failing: str,
    error: OSError,
) -> None:
    path = tmp_path / "nginx-ssl.conf"
    path.write_text("old\n", encoding="utf-8")
    if not anonymous:
        monkeypatch.setattr(output, "_anonymous_file", lambda directory: None)
    real = getattr(os, failing)

    def fail(*arguments: object, **keywords: object) -> object:
        if failing == "open" and arguments[0] == path.parent:
            raise error  # O_TMPFILE opens the directory
        if failing == "open" and str(arguments[0]).endswith(".tmp"):
            raise error  # mkstemp opens the named temporary
        if failing == "write":
            raise error
        return real(*arguments, **keywords)

    monkeypatch.setattr(os, failing, fail)
    with pytest.raises(OutputError) as caught:
        write_atomic(path, "new\n", "out/nginx-ssl.conf")
    assert str(caught.value) == f"cannot write out/nginx-ssl.conf: {error.strerror}"
    monkeypatch.undo()
    assert path.read_text(encoding="utf-8") == "old\n"
    assert [entry.name for entry in tmp_path.iterdir()] == ["nginx-ssl.conf"]


def test_writing_where_a_directory_stands_is_an_output_error(tmp_path: Path) -> None:
    (tmp_path / "nginx-ssl.conf").mkdir()
    with pytest.raises(OutputError, match=r"^cannot write x: .*directory"):
        write_atomic(tmp_path / "nginx-ssl.conf", "new\n", "x")
    assert (tmp_path / "nginx-ssl.conf").is_dir()


def test_writing_below_a_file_is_an_output_error(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("a file\n", encoding="utf-8")
    with pytest.raises(OutputError, match=r"^cannot write out/x.conf: .*not a directory"):
        write_atomic(tmp_path / "out" / "x.conf", "new\n", "out/x.conf")
    assert (tmp_path / "out").read_text(encoding="utf-8") == "a file\n"


def test_the_anonymous_file_gets_a_name_only_when_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # O_TMPFILE where the file system has it (this one does): nothing is named until the text
    # is written and synced, then a temporary name is linked and renamed over the output.
    path = tmp_path / "nginx-ssl.conf"
    seen: list[tuple[str, bytes, list[str]]] = []
    real_link = os.link

    def watch(source: object, target: str, **keywords: object) -> None:
        assert str(source).startswith("/proc/self/fd/")
        names_before = sorted(entry.name for entry in tmp_path.iterdir())
        real_link(source, target, **keywords)  # type: ignore[arg-type]
        seen.append((target, (tmp_path / target).read_bytes(), names_before))

    monkeypatch.setattr(os, "link", watch)
    write_atomic(path, "complete\n")
    assert len(seen) == 1
    name, content, names_before = seen[0]
    assert name.startswith(".nginx-ssl.conf.") and name.endswith(".tmp")
    assert content == b"complete\n"
    assert names_before == []
    assert [entry.name for entry in tmp_path.iterdir()] == ["nginx-ssl.conf"]


KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
from nginxgen.generation import output
path, kind, moment = sys.argv[1:]
if kind == "named":
    output._anonymous_file = lambda directory: None
def killed(*arguments, **keywords):
    os.kill(os.getpid(), signal.SIGKILL)
if moment == "rename":
    Path.replace = killed
else:
    os.fsync = killed
output.write_atomic(Path(path), "new\\n")
"""


def kill_a_writer(path: Path, kind: str, moment: str) -> list[Path]:
    """Run a write that SIGKILLs itself at `moment`; what it left beside the output."""
    process = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(path), kind, moment],
        check=False,
        capture_output=True,
    )
    assert process.returncode == -signal.SIGKILL, process.stderr
    assert path.read_text(encoding="utf-8") == "old\n"
    return [entry for entry in path.parent.iterdir() if entry != path]


def test_an_anonymous_temporary_killed_while_written_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "nginx-ssl.conf"
    path.write_text("old\n", encoding="utf-8")
    assert kill_a_writer(path, "anonymous", "fsync") == []


@pytest.mark.parametrize(("kind", "moment"), [("anonymous", "rename"), ("named", "fsync")])
def test_a_temporary_a_killed_writer_left_is_swept_once_stale(
    tmp_path: Path, kind: str, moment: str
) -> None:
    path = tmp_path / "nginx-ssl.conf"
    path.write_text("old\n", encoding="utf-8")
    left = kill_a_writer(path, kind, moment)
    assert len(left) == 1 and left[0].name.startswith(".nginx-ssl.conf.")
    # A write a moment later keeps it (it might be another render's); once stale, it goes.
    write_atomic(path, "newer\n")
    assert left[0].exists()
    old = time.time() - output.STALE_AFTER_SECONDS - 5
    os.utime(left[0], (old, old))
    write_atomic(path, "newest\n")
    assert not left[0].exists()
    assert [entry.name for entry in tmp_path.iterdir()] == ["nginx-ssl.conf"]
    assert path.read_text(encoding="utf-8") == "newest\n"


def test_the_sweep_keeps_a_locked_temporary_and_other_files(tmp_path: Path) -> None:
    path = tmp_path / "nginx-ssl.conf"
    old = time.time() - output.STALE_AFTER_SECONDS - 5
    alive, stale = tmp_path / ".nginx-ssl.conf.alive.tmp", tmp_path / ".nginx-ssl.conf.dead.tmp"
    other = tmp_path / ".other.conf.dead.tmp"
    for file in (alive, stale, other):
        file.write_text("x", encoding="utf-8")
        os.utime(file, (old, old))
    descriptor = os.open(alive, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        assert sweep_temporaries(path) == [stale]
    finally:
        os.close(descriptor)
    assert alive.exists() and other.exists() and not stale.exists()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"a\r\nb\r\n", "has CRLF (Windows) line endings"),
        (b"a\n\xff\n", "is not UTF-8 text"),
    ],
)
def test_drift_of_a_file_that_differs_invisibly_is_stale(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    path = tmp_path / "nginx-ssl.conf"
    path.write_bytes(content)
    result = drift(path, "a\nb\n", "x")
    assert not result.clean
    assert result.reason == reason


def test_drift_of_an_unreadable_file_is_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "nginx-ssl.conf"
    path.write_text("a\n", encoding="utf-8")

    def unreadable(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", unreadable)
    result = drift(path, "a\n", "x")
    assert not result.clean
    assert result.reason == "cannot be read (Permission denied)"


def test_drift_of_a_directory_is_stale(tmp_path: Path) -> None:
    result = drift(tmp_path, "a\n", "x")
    assert result.exists and not result.clean
    assert result.reason == "is a directory, not a file"
