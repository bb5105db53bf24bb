"""`nginxgen new NAME`: a new environment file, valid beside the existing ones."""

from __future__ import annotations

from pathlib import Path

from nginxgen.commands.project import open_project
from nginxgen.commands.result import Report, lines
from nginxgen.generation.loader import display_path
from nginxgen.generation.output import write_atomic
from nginxgen.generation.scaffold import new_environment


def new(
    name: str,
    domains: list[str],
    service: str,
    environments: Path | None,
    settings_file: Path | None,
) -> Report:
    project = open_project(settings_file, environments)
    path, text = new_environment(name, domains, service, project.directory, project.settings)
    write_atomic(path, text)
    return Report(
        stdout=lines(f"wrote {display_path(path)}; run `nginxgen render` to regenerate the output")
    )
