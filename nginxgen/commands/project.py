"""The project a command works on: `nginxgen.yaml`, the environments directory, and the plan."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from nginxgen.core.errors import ConfigError
from nginxgen.core.facts import DEFAULT_IMAGE
from nginxgen.generation.loader import load_settings, read_environments
from nginxgen.generation.models import Settings
from nginxgen.generation.plan import build_plan
from nginxgen.generation.plan_types import Plan

IMAGE_VARIABLE = "NGINXGEN_NGINX_IMAGE"


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


def resolve_image(
    option: str | None, settings: Settings, environ: Mapping[str, str] = os.environ
) -> str:
    """The nginx image to test with (`check`, `test`, `explain`): `--image`, else
    $NGINXGEN_NGINX_IMAGE, else settings, else stable."""
    return option or environ.get(IMAGE_VARIABLE) or settings.check.image or DEFAULT_IMAGE
