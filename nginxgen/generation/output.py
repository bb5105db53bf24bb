"""Writing output atomically, and comparing it with the file on disk (the drift check).

The new text goes to an anonymous file (`O_TMPFILE`) that gets a name only once it is complete,
and that name only for the instant before it replaces the output: a render killed at any point
leaves nothing behind. Where the file system has no anonymous files, a named temporary is used,
locked while it is written; a later write removes those a killed render left (unlocked, older
than `STALE_AFTER_SECONDS`).
"""

from __future__ import annotations

import contextlib
import difflib
import errno
import fcntl
import glob
import os
import secrets
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from nginxgen.core.errors import OutputError
from nginxgen.core.files import file_kind

STALE_AFTER_SECONDS = 60
_PROC_FD = Path("/proc/self/fd")


def write_atomic(path: Path, text: str, display: str | None = None) -> None:
    """Replace `path` with `text` in one step: readers see the old file or the new, never half.

    Raises OutputError (naming `display`, default `path`) when it cannot; the old file is then
    untouched."""
    try:
        _write(path, text.encode("utf-8"))
    except OSError as error:
        reason = error.strerror or str(error)
        raise OutputError(f"cannot write {display or path}: {reason}") from None


def _write(path: Path, data: bytes) -> None:
    directory = path.parent
    if directory.exists() and not directory.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, f"{directory} is not a directory")
    directory.mkdir(parents=True, exist_ok=True)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "it is a directory")
    sweep_temporaries(path)
    descriptor = _anonymous_file(directory)
    temporary: Path | None = None
    if descriptor is None:
        descriptor, name = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
        temporary = Path(name)
    try:
        # The lock tells a sweeping nginxgen that this temporary is alive.
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        _write_all(descriptor, data)
        os.fchmod(descriptor, 0o644)
        os.fsync(descriptor)
        if temporary is None:
            temporary = directory / f".{path.name}.{secrets.token_hex(6)}.tmp"
            _link(descriptor, temporary)
        temporary.replace(path)
        temporary = None
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                temporary.unlink()
        os.close(descriptor)


def _link(descriptor: int, name: Path) -> None:
    """Give the anonymous file `descriptor` the name `name`. Python calls linkat(2) (which can
    follow /proc's link to the open file) only when given a directory descriptor; plain link(2)
    would try to link the /proc entry itself."""
    directory = os.open(name.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.link(_PROC_FD / str(descriptor), name.name, dst_dir_fd=directory, follow_symlinks=True)
    finally:
        os.close(directory)


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def _anonymous_file(directory: Path) -> int | None:
    """A nameless file in `directory` (`O_TMPFILE`), or None where the system has none."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or not _PROC_FD.is_dir():
        return None
    try:
        return os.open(directory, flag | os.O_WRONLY | os.O_CLOEXEC, 0o600)
    except OSError as error:
        # Kernels and file systems without O_TMPFILE say so in one of these ways.
        if error.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
            return None
        raise


def sweep_temporaries(path: Path) -> list[Path]:
    """Remove the temporaries of `path` (`.NAME.*.tmp`) that a killed nginxgen left: regular
    files, not locked by a live writer, older than STALE_AFTER_SECONDS. Returns what it removed;
    anything it cannot inspect is left alone."""
    removed = []
    now = time.time()
    for candidate in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        try:
            status = candidate.lstat()
            if not stat.S_ISREG(status.st_mode) or now - status.st_mtime < STALE_AFTER_SECONDS:
                continue
            descriptor = os.open(candidate, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                candidate.unlink()
                removed.append(candidate)
            finally:
                os.close(descriptor)
        except OSError:
            continue
    return removed


@dataclass(frozen=True)
class Drift:
    """How the file on disk differs from the freshly rendered text. Clean: byte for byte the
    same. `reason` says why it is stale when a diff cannot show it (unreadable, not UTF-8,
    CRLF line endings, not a file)."""

    path: str
    exists: bool
    diff: str
    reason: str = ""

    @property
    def clean(self) -> bool:
        return self.exists and not self.diff and not self.reason


def drift(path: Path, expected: str, display: str) -> Drift:
    try:
        status = path.stat()
    except FileNotFoundError:
        return Drift(display, exists=False, diff="")
    except OSError as error:
        return Drift(display, True, "", f"cannot be read ({error.strerror or error})")
    if not stat.S_ISREG(status.st_mode):
        return Drift(display, True, "", f"is {file_kind(status.st_mode)}, not a file")
    try:
        current_bytes = path.read_bytes()
    except OSError as error:
        return Drift(display, True, "", f"cannot be read ({error.strerror or error})")
    if current_bytes == expected.encode("utf-8"):
        return Drift(display, exists=True, diff="")
    try:
        current = current_bytes.decode("utf-8")
    except UnicodeDecodeError:
        return Drift(display, True, "", "is not UTF-8 text")
    if "\r" in current and current.replace("\r\n", "\n") == expected:
        return Drift(display, True, "", "has CRLF (Windows) line endings")
    lines = difflib.unified_diff(
        current.splitlines(keepends=True),
        expected.splitlines(keepends=True),
        fromfile=f"{display} (on disk)",
        tofile=f"{display} (rendered)",
    )
    diff = "".join(lines)
    return Drift(display, True, diff, "" if diff else "differs from the rendered output")
