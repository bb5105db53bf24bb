"""What every command returns: an exit code and its output, ready to print.

Commands build a `Report` for the format the user chose; `nginxgen.cli` only prints it. Exit
codes everywhere: 0 ok · 1 findings · 2 invalid input or usage · 3 a bug in nginxgen.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

EXIT_OK, EXIT_FINDINGS, EXIT_INVALID, EXIT_BUG = 0, 1, 2, 3
# SIGINT's conventional status (128 + 2), also for SIGTERM: the command stopped on a signal.
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class Report:
    """A command's whole output: `stdout` for results, `stderr` for diagnostics."""

    exit_code: int = EXIT_OK
    stdout: str = ""
    stderr: str = ""


def json_report(document: Any, exit_code: int = EXIT_OK, stderr: str = "") -> Report:
    return Report(exit_code, json.dumps(document, indent=2) + "\n", stderr)


def lines(*parts: str) -> str:
    """Lines joined with a final newline, empty parts left out."""
    kept = [part for part in parts if part]
    return "".join(f"{part}\n" for part in kept)
