"""`nginxgen new NAME`: a new environment file, valid beside the existing ones."""

from __future__ import annotations

from pathlib import Path

from nginxgen.commands.project import open_project
from nginxgen.commands.result import Report, lines
from nginxgen.core.errors import ConfigError, NginxgenError, Problem, UsageError
from nginxgen.generation.loader import display_path
from nginxgen.generation.output import write_atomic
from nginxgen.generation.scaffold import new_environment

# The file `new` would write comes from its options: a problem with it names the option.
_OPTIONS = {"domains": "--domain", "services": "--service"}


def new(
    name: str,
    domains: list[str],
    service: str,
    environments: Path | None,
    settings_file: Path | None,
) -> Report:
    project = open_project(settings_file, environments)
    try:
        path, text = new_environment(name, domains, service, project.directory, project.settings)
    except ConfigError as error:
        raise _unwritten(error, display_path(project.directory / f"{name}.yaml")) from None
    write_atomic(path, text)
    return Report(
        stdout=lines(f"wrote {display_path(path)}; run `nginxgen render` to regenerate the output")
    )


def _unwritten(error: ConfigError, file: str) -> NginxgenError:
    """The problems of the file `new` did not write, by the option they come from; the same
    problem seen from an existing file (a domain both serve) is said once, from the new side."""
    own = [problem for problem in error.problems if problem.file == file]
    if not own:
        return error
    messages = [f"{_option(problem)}: {problem.message}" for problem in own]
    return UsageError(
        f"{file} not written: {messages[0]}",
        details="\n".join(messages[1:]),
    )


def _option(problem: Problem) -> str:
    section = problem.field.split(".", 1)[0].split("[", 1)[0]
    option = _OPTIONS.get(section)
    return f"{option} ({problem.field})" if option else problem.field or "the new file"
