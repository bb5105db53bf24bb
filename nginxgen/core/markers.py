"""The comments generated output carries, written by the templates and read back by `check`
and `deploy`: one definition of each, so rewording one cannot silently break its reader.

- the requirement line: which nginx the output targets and the oldest nginx that runs it;
- the environment line before each environment's blocks, which attributes nginx's messages
  about a line of the output to the environment file it came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_REQUIREMENT = re.compile(
    r"^# Target: nginx (?P<target>[0-9.]+); needs nginx >= (?P<needs>[0-9.]+)\.$", re.MULTILINE
)
_ENVIRONMENT = re.compile(r"^\s*# environment: (?P<name>[A-Za-z0-9_-]+) \((?P<file>[^()\n]+)\)$")


@dataclass(frozen=True)
class Requirement:
    target: str
    needs: str


@dataclass(frozen=True)
class EnvironmentMarker:
    """The environment whose server blocks follow a marker line in generated output."""

    name: str
    file: str


def requirement_line(target: str, needs: str) -> str:
    return f"# Target: nginx {target}; needs nginx >= {needs}."


def environment_line(name: str, file: str) -> str:
    return f"# environment: {name} ({file})"


def find_requirement(text: str) -> Requirement | None:
    match = _REQUIREMENT.search(text)
    return Requirement(match["target"], match["needs"]) if match else None


def environment_at(text: str, line: int) -> EnvironmentMarker | None:
    """The environment marker nearest before (or on) 1-based `line` of generated `text`."""
    found = None
    for content in text.splitlines()[:line]:
        match = _ENVIRONMENT.match(content)
        if match:
            found = EnvironmentMarker(match["name"], match["file"])
    return found
