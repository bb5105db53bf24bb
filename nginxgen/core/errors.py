"""The errors nginxgen reports to its users.

Every user-facing failure is an `NginxgenError`; `cli.py` turns it into a message on stderr and
its `exit_code`. Exceptions never print.
"""

from __future__ import annotations

from dataclasses import dataclass


class NginxgenError(Exception):
    """Root of the errors a user can cause or fix; anything else is a bug (exit 3)."""

    exit_code = 2


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, located as `file:line:column: field: message`."""

    file: str
    line: int
    column: int
    field: str
    message: str

    def __str__(self) -> str:
        field = f"{self.field}: " if self.field else ""
        return f"{self.file}:{self.line}:{self.column}: {field}{self.message}"


class ConfigError(NginxgenError):
    """Invalid input: every problem found, reported at once."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.column, p.field))
        super().__init__("\n".join(str(problem) for problem in self.problems))


class UsageError(NginxgenError):
    """The command was asked for something it cannot do (missing directory, existing file, ...)."""


class EnvironmentUnavailable(NginxgenError):
    """A tool the command needs (Docker, an image, an nginx binary) is not there."""


class InvariantViolation(NginxgenError):
    """Generated output broke a rule nginxgen guarantees: a bug in nginxgen, never written."""

    exit_code = 3
