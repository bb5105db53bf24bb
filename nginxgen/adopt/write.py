"""The files `nginxgen import` writes: YAML text, deterministic, never over an existing file."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nginxgen.core.errors import UsageError
from nginxgen.generation.loader import SETTINGS_FILE

ENVIRONMENTS = "environments"


@dataclass(frozen=True)
class OutputFile:
    """One file to write, relative to the directory imported into."""

    path: str
    text: str


def yaml_text(data: dict[str, Any], header: list[str]) -> str:
    body = yaml.safe_dump(
        data, sort_keys=False, default_flow_style=False, allow_unicode=True, width=100
    )
    return "".join(f"# {line}\n" if line else "#\n" for line in header) + body


def environment_file(name: str, data: dict[str, Any], source: str, servers: str) -> OutputFile:
    header = [
        f"Environment {name!r}, imported by `nginxgen import` from {source}",
        f"({servers}). Review it, then `nginxgen render`.",
    ]
    return OutputFile(f"{ENVIRONMENTS}/{name}.yaml", yaml_text(data, header))


def settings_file(data: dict[str, Any], source: str) -> OutputFile:
    header = [f"nginxgen settings, imported by `nginxgen import` from {source}."]
    return OutputFile(SETTINGS_FILE, yaml_text(data, header))


def existing(directory: Path, files: list[OutputFile]) -> list[Path]:
    return [directory / file.path for file in files if (directory / file.path).exists()]


def write_new(directory: Path, files: list[OutputFile]) -> list[Path]:
    """Write every file, none of which may exist yet (checked for all before the first write)."""
    clashes = existing(directory, files)
    if clashes:
        raise UsageError(
            "not overwriting existing files: "
            + ", ".join(str(path) for path in clashes)
            + " (import into another directory with --into)"
        )
    written = []
    for file in files:
        path = directory / file.path
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: a file created meanwhile is not overwritten either.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(file.text)
        written.append(path)
    return written
