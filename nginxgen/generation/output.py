"""Writing output atomically, and comparing it with what is committed (the drift check)."""

from __future__ import annotations

import difflib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` in one step: readers see the old file or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="\n") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        Path(temporary).chmod(0o644)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class Drift:
    """How the file on disk differs from the freshly rendered text; empty diff: up to date."""

    path: str
    exists: bool
    diff: str

    @property
    def clean(self) -> bool:
        return self.exists and not self.diff


def drift(path: Path, expected: str, display: str) -> Drift:
    if not path.is_file():
        return Drift(display, exists=False, diff="")
    current = path.read_text(encoding="utf-8")
    lines = difflib.unified_diff(
        current.splitlines(keepends=True),
        expected.splitlines(keepends=True),
        fromfile=f"{display} (committed)",
        tofile=f"{display} (rendered)",
    )
    return Drift(display, exists=True, diff="".join(lines))
