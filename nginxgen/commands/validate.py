"""`nginxgen validate`: every problem of the environment files, nothing rendered."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from nginxgen.commands.project import open_project, plan_project, warnings_text
from nginxgen.commands.result import EXIT_INVALID, Report, json_report, lines
from nginxgen.core.errors import ConfigError
from nginxgen.core.formats import OutputFormat


def validate(
    environments: Path | None, settings_file: Path | None, output_format: OutputFormat
) -> Report:
    try:
        plan = plan_project(open_project(settings_file, environments))
    except ConfigError as error:
        if output_format is OutputFormat.json:
            problems = [dataclasses.asdict(problem) for problem in error.problems]
            document = {"valid": False, "problems": problems, "warnings": []}
            return json_report(document, EXIT_INVALID)
        raise
    if output_format is OutputFormat.json:
        warnings = [dataclasses.asdict(warning) for warning in plan.warnings]
        return json_report({"valid": True, "problems": [], "warnings": warnings})
    names = [environment.name for environment in plan.environments]
    return Report(
        stdout=lines(f"{len(names)} environment(s) valid: " + ", ".join(names)),
        stderr=warnings_text(plan),
    )
