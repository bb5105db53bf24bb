"""The project a command works on: `nginxgen.yaml`, the environments directory, the plan, what
the plan implies for the proxy container (its mounts, its image), and which proxy is its own.

Not a command: the helpers several commands share, so that no command imports another."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from nginxgen.commands.result import EXIT_FINDINGS, EXIT_INTERRUPTED, EXIT_OK, Report
from nginxgen.core.errors import ConfigError
from nginxgen.docker.mounts import ProxyMount, proxy_mounts
from nginxgen.docker.selection import ComposeProject, ProxySelection, proxy_selection
from nginxgen.generation.loader import load_settings, read_environments
from nginxgen.generation.models import Settings
from nginxgen.generation.plan import build_plan
from nginxgen.generation.plan_types import EnvironmentPlan, Plan

if TYPE_CHECKING:
    # Types only: every command opens its project here, and `render` must not load Docker.
    from nginxgen.docker.deploy_flow import Outcome, Transcript


@dataclass(frozen=True)
class Project:
    settings: Settings
    directory: Path


def open_project(settings_file: Path | None, environments: Path | None) -> Project:
    """Settings and the environments directory; an invalid settings file is reported together
    with the environment files' own problems, as far as they show without settings."""
    try:
        settings = load_settings(settings_file)
    except ConfigError as error:
        directory = environments or Path(Settings().environments)
        try:
            _, problems = read_environments(directory)
        except ConfigError as unreadable:
            problems = unreadable.problems
        raise ConfigError([*error.problems, *problems]) from None
    return Project(settings, environments or Path(settings.environments))


def plan_project(project: Project) -> Plan:
    """The validated plan of every environment; nothing rendered."""
    loaded, problems = read_environments(project.directory)
    return build_plan(loaded, project.settings, problems)


def warnings_text(plan: Plan) -> str:
    return "".join(f"{warning}\n" for warning in plan.warnings)


def htpasswd_files(environment: EnvironmentPlan) -> list[str]:
    """The htpasswd files an environment's server or locations name."""
    accesses = [environment.access, *(location.access for location in environment.locations)]
    return sorted({access.htpasswd for access in accesses if access and access.htpasswd})


def uses_variable(plan: Plan) -> bool:
    return any(environment.strategy == "variable" for environment in plan.environments)


def proxy_image(settings: Settings) -> str:
    return settings.check.image or f"nginx:{settings.nginx_version}"


def plan_mounts(plan: Plan) -> list[ProxyMount]:
    """The proxy container's mounts for this plan (compose and stack print them)."""
    return proxy_mounts(
        https=any(environment.tls for environment in plan.environments),
        webroots={env.acme_webroot for env in plan.environments if env.acme_webroot},
        htpasswd_directories={
            str(PurePosixPath(path).parent)
            for environment in plan.environments
            for path in htpasswd_files(environment)
        },
    )


def select_proxy(
    container: str | None,
    compose_service: str | None,
    swarm_service: str | None,
    compose_project: str | None,
    settings_file: Path | None,
) -> ProxySelection:
    """The proxy the options name, validated once. This project's compose project lives where
    its settings file is (the current directory by default), as compose's does."""
    directory = settings_file.parent if settings_file else Path()
    here = ComposeProject.here(directory, os.environ, compose_project)
    return proxy_selection(container, compose_service, swarm_service, here)


def outcome_report(outcome: Outcome, transcript: Transcript) -> Report:
    """A deploy's or rollback's exit: 0 deployed (or tested) · 1 refused or rolled back · 130 a
    signal arrived, said with where the proxy stands once the critical section had finished or
    been undone."""
    if outcome.signal is not None:
        return Report(
            EXIT_INTERRUPTED,
            transcript.text,
            f"nginxgen: interrupted ({outcome.signal}): {outcome.where}\n",
        )
    return Report(EXIT_OK if outcome.ok else EXIT_FINDINGS, transcript.text)


# The typed proxy choice, for cli.py (which imports only commands).
__all__ = ["ProxySelection"]
