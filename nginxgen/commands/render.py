"""`nginxgen render [--check]`: write the output atomically, or report drift."""

from __future__ import annotations

from pathlib import Path

from nginxgen.commands.project import open_project, warnings_text
from nginxgen.commands.result import EXIT_FINDINGS, Report, lines
from nginxgen.generation.loader import display_path
from nginxgen.generation.output import drift, write_atomic
from nginxgen.generation.pipeline import generate


def render(
    environments: Path | None, output: Path | None, check: bool, settings_file: Path | None
) -> Report:
    project = open_project(settings_file, environments)
    target = output or Path(project.settings.output)
    generated = generate(project.directory, project.settings)
    warnings = warnings_text(generated.plan)
    result = drift(target, generated.text, display_path(target))
    if result.clean:
        # Not even rewritten: tools that watch the file (or its mtime) see no change.
        return Report(stdout=lines(f"{result.path} is up to date"), stderr=warnings)
    if not check:
        write_atomic(target, generated.text, result.path)
        names = ", ".join(env.name for env in generated.plan.environments)
        return Report(stdout=lines(f"wrote {result.path} ({names})"), stderr=warnings)
    if not result.exists:
        stdout = lines(f"{result.path} is missing; run `nginxgen render`")
    elif result.reason:
        stdout = lines(f"{result.path} {result.reason}: stale; run `nginxgen render` to replace it")
    else:
        stdout = result.diff + lines(
            f"{result.path} is stale; run `nginxgen render` and commit the result"
        )
    return Report(EXIT_FINDINGS, stdout, warnings)
