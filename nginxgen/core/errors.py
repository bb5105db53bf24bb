"""The errors nginxgen reports to its users.

Every user-facing failure is an `NginxgenError`; `cli.py` turns it into a message on stderr and
its `exit_code`. Exceptions never print.
"""

from __future__ import annotations

from dataclasses import dataclass


def printable(text: str) -> str:
    """`text` on one visible line: every character that would break the line or hide in it
    (newline, carriage return, escape sequences, bidirectional marks, non-ASCII spaces) is shown
    as its Python escape, e.g. `\\n` or `\\u202e`."""
    if text.isprintable():
        return text
    return "".join(
        character if character.isprintable() else repr(character)[1:-1] for character in text
    )


class NginxgenError(Exception):
    """Root of the errors a user can cause or fix; anything else is a bug (exit 3).

    Its message is one line, whatever values it quotes. `details` are further lines nginxgen
    itself composes (what to do, nginx's log): each of them is kept on its own line, escaped
    like the message."""

    exit_code = 2

    def __init__(self, message: str = "", *, details: str = "") -> None:
        super().__init__(message)
        self.details = details

    def __str__(self) -> str:
        lines = [printable(super().__str__())]
        lines += [printable(line) for line in self.details.splitlines()]
        return "\n".join(lines)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, located as `file:line:column: field: message`."""

    file: str
    line: int
    column: int
    field: str
    message: str

    def __str__(self) -> str:
        field = f"{printable(self.field)}: " if self.field else ""
        return f"{printable(self.file)}:{self.line}:{self.column}: {field}{printable(self.message)}"


class ConfigError(NginxgenError):
    """Invalid input: every problem found, reported at once."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.column, p.field))
        super().__init__("\n".join(str(problem) for problem in self.problems))

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)


class UsageError(NginxgenError):
    """The command was asked for something it cannot do (missing directory, existing file, ...)."""


class OutputError(NginxgenError):
    """The output cannot be written where it should go: a directory in the way, a read-only
    file system, a full disk. The old output, if any, is left as it was."""


class EnvironmentUnavailable(NginxgenError):
    """A tool the command needs (Docker, an image, an nginx binary) is not there."""


class InvariantViolation(NginxgenError):
    """Generated output broke a rule nginxgen guarantees: a bug in nginxgen, never written."""

    exit_code = 3
