"""The whole pipeline up to text: load → plan → render → self-check. Writes nothing."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from nginxgen.core.errors import Problem
from nginxgen.generation.loader import LoadedEnvironment, read_environments
from nginxgen.generation.models import Settings
from nginxgen.generation.plan import build_plan
from nginxgen.generation.plan_types import Plan
from nginxgen.generation.render import render
from nginxgen.generation.selfcheck import check_output


@dataclass(frozen=True)
class Generated:
    environments: tuple[LoadedEnvironment, ...]
    plan: Plan
    text: str


def generate_from(
    environments: list[LoadedEnvironment],
    settings: Settings,
    loading_problems: Sequence[Problem] = (),
    pending: Collection[str] = (),
) -> Generated:
    plan = build_plan(environments, settings, loading_problems, pending)
    text = render(plan)
    check_output(text, settings.nginx_version)
    return Generated(tuple(environments), plan, text)


def generate(directory: Path, settings: Settings, pending: Collection[str] = ()) -> Generated:
    """Validated, rendered and self-checked output for every environment file in `directory`;
    the environments named in `pending` wait for their certificate on port 80."""
    loaded, problems = read_environments(directory)
    return generate_from(loaded, settings, problems, pending)
