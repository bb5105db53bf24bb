"""The results of `nginxgen test` as a table for people, JSON for tools, GitHub annotations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nginxgen.core.formats import annotation_data, annotation_property
from nginxgen.routetest.compare import Outcome


@dataclass(frozen=True)
class Phase:
    """The outcomes of one start of nginx: everything up, or some services down (--chaos)."""

    name: str
    outcomes: tuple[Outcome, ...]


@dataclass(frozen=True)
class Run:
    nginx_version: str
    image: str
    phases: tuple[Phase, ...]

    @property
    def outcomes(self) -> list[Outcome]:
        return [outcome for phase in self.phases for outcome in phase.outcomes]

    @property
    def passed(self) -> bool:
        return all(outcome.passed for outcome in self.outcomes)

    def summary(self) -> str:
        failed = sum(not outcome.passed for outcome in self.outcomes)
        passed = len(self.outcomes) - failed
        return f"{passed} passed, {failed} failed ({self.nginx_version}, Docker image {self.image})"


def _row(outcome: Outcome) -> str:
    case = outcome.case
    mark = "PASS" if outcome.passed else "FAIL"
    kind = " (implicit)" if case.implicit else ""
    return f"{mark}  {case.where}  {case.label}{kind}  {case.request} -> {outcome.answered_by}\n"


def format_text(run: Run) -> str:
    text = ""
    for phase in run.phases:
        if len(run.phases) > 1:
            text += f"== {phase.name} ==\n"
        for outcome in phase.outcomes:
            text += _row(outcome)
            for difference in outcome.differences:
                text += (
                    f"      {difference.field}: expected {difference.expected}, "
                    f"got {difference.got}\n"
                )
    return text + run.summary() + "\n"


def outcome_document(outcome: Outcome) -> dict[str, Any]:
    case, observed = outcome.case, outcome.observed
    received = observed.received
    return {
        "file": case.file,
        "line": case.line,
        "column": case.column,
        "test": case.label,
        "implicit": case.implicit,
        "request": str(case.request),
        "passed": outcome.passed,
        "answered_by": outcome.answered_by,
        "status": observed.status,
        "refused": observed.refused,
        "error": observed.error,
        "received": (
            {
                "method": received.method,
                "uri": received.uri,
                "port": received.port,
                "headers": dict(received.headers),
            }
            if received
            else None
        ),
        "differences": [
            {"field": item.field, "expected": item.expected, "got": item.got}
            for item in outcome.differences
        ],
    }


def run_document(run: Run) -> dict[str, Any]:
    return {
        "passed": run.passed,
        "nginx_version": run.nginx_version,
        "image": run.image,
        "phases": [
            {"name": phase.name, "results": [outcome_document(o) for o in phase.outcomes]}
            for phase in run.phases
        ],
    }


def format_github(run: Run) -> str:
    """An error annotation on each failed test's line, then the summary."""
    lines = []
    for phase in run.phases:
        for outcome in phase.outcomes:
            if outcome.passed:
                continue
            case = outcome.case
            properties = ",".join(
                [
                    f"file={annotation_property(case.file)}",
                    f"line={case.line}",
                    f"col={case.column}",
                    f"title={annotation_property(f'nginxgen test: {case.label}')}",
                ]
            )
            details = "\n".join(
                f"{item.field}: expected {item.expected}, got {item.got}"
                for item in outcome.differences
            )
            message = annotation_data(f"{phase.name}: {case.request}\n{details}")
            lines.append(f"::error {properties}::{message}\n")
    return "".join(lines) + run.summary() + "\n"


def phases_named(pairs: Sequence[tuple[str, Sequence[Outcome]]]) -> tuple[Phase, ...]:
    return tuple(Phase(name, tuple(outcomes)) for name, outcomes in pairs)
