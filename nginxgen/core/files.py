"""What kind of file a path is, in words for messages: one definition for every reader."""

from __future__ import annotations

import stat
from pathlib import Path


def file_kind(mode: int) -> str:
    """What a file that is not a regular file is, for messages: "a directory", ..."""
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    )
    return next((kind for test, kind in kinds if test(mode)), "a special file")


def not_a_file(path: Path) -> str:
    """Why `path` cannot be read as a config file: missing, or what it is instead."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return (
            "a symbolic link to a file that does not exist" if path.is_symlink() else "no such file"
        )
    except OSError as error:
        return error.strerror or str(error)
    return f"{file_kind(mode)}, not a file"
