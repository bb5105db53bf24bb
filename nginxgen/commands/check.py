"""`nginxgen check`: which configs to test, with which nginx, and the test itself.

The configs are the rendered environments (what `render` would write) or given files; the nginx
is an image run by Docker or the host's binary. The work is in `nginxgen.nginx.runner`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nginxgen.commands.project import open_project, resolve_image
from nginxgen.commands.result import EXIT_FINDINGS, EXIT_OK, Report, json_report, lines
from nginxgen.core.errors import UsageError
from nginxgen.core.facts import conf_d_name
from nginxgen.core.formats import EngineKind, OutputFormat
from nginxgen.core.markers import find_requirement
from nginxgen.core.versions import at_least
from nginxgen.generation.models import Settings
from nginxgen.nginx.docker_engine import DockerEngine
from nginxgen.nginx.local_engine import LocalEngine
from nginxgen.nginx.runner import CheckResult, ConfigFile, Engine, nginx_test


def make_engine(kind: EngineKind, image: str, nginx_binary: str = "nginx") -> Engine:
    if kind is EngineKind.local:
        return LocalEngine(nginx_binary)
    return DockerEngine(image)


def configs_from_files(paths: Sequence[Path]) -> list[ConfigFile]:
    """Given config files, each to become a `conf.d` file of the same name."""
    configs = []
    seen: dict[str, Path] = {}
    for path in paths:
        if not path.is_file():
            raise UsageError(f"{path}: no such config file")
        name = conf_d_name(path.name)
        if name in seen:
            raise UsageError(
                f"{seen[name]} and {path} would both be conf.d/{name}; rename one of them"
            )
        seen[name] = path
        configs.append(ConfigFile(path.name, path.read_text(encoding="utf-8")))
    return configs


def configs_from_environments(directory: Path, settings: Settings) -> list[ConfigFile]:
    """The output `render` would write for the environments in `directory`, named like it."""
    from nginxgen.generation.pipeline import generate

    generated = generate(directory, settings)
    return [ConfigFile(Path(settings.output).name, generated.text)]


def check(configs: Sequence[ConfigFile], engine: Engine) -> CheckResult:
    """`nginx -t` on `configs` together, loaded as `conf.d` files, in `engine`.

    Generated configs say which nginx they need; an older nginx fails the check even where
    `nginx -t` happens to pass, since what it lacks may only show at run time.
    """
    if not configs:
        raise UsageError("nothing to check: no config files given")
    result = nginx_test(configs, engine)
    problems = tuple(
        problem
        for config in configs
        if (problem := version_problem(config, result.nginx_version)) is not None
    )
    if not problems:
        return result
    return dataclasses.replace(result, ok=False, problems=result.problems + problems)


def version_problem(config: ConfigFile, nginx_version: str) -> str | None:
    """Why `nginx_version` (`nginx/1.22.1`) cannot run `config`, by its header; else None."""
    requirement = find_requirement(config.text)
    running = nginx_version.rpartition("/")[2]
    try:
        if requirement is None or at_least(running, requirement.needs):
            return None
    except ValueError:  # an nginx that does not say its version
        return None
    return (
        f"{config.name}: nginx {running} is older than this output needs "
        f"(>= {requirement.needs}; generated for nginx {requirement.target}): set "
        "nginx_version in nginxgen.yaml to the nginx you run, or run a newer nginx"
    )


def as_document(result: CheckResult) -> dict[str, Any]:
    """`result` as the JSON document of `nginxgen check --format json`."""
    return {
        "ok": result.ok,
        "nginx_version": result.nginx_version,
        "engine": result.engine,
        "messages": [
            {
                "level": message.level,
                "text": message.text,
                "config": message.config,
                "line": message.line,
                "environment": message.environment.name if message.environment else None,
                "environment_file": message.environment.file if message.environment else None,
            }
            for message in result.messages
        ],
        "notes": list(result.notes),
        "problems": list(result.problems),
        "output": result.output,
    }


def as_text(result: CheckResult) -> Report:
    """Errors and the verdict on stdout; nginx's notes and warnings on stderr."""
    stderr = "".join(f"note: {note}\n" for note in result.notes)
    stderr += "".join(f"{message}\n" for message in result.messages if not message.is_error)
    stdout = "".join(f"{message}\n" for message in result.errors)
    stdout += "".join(f"{problem}\n" for problem in result.problems)
    tested = f"{result.nginx_version}, {result.engine}"
    if result.ok:
        return Report(EXIT_OK, stdout + lines(f"nginx -t passed ({tested})"), stderr)
    if not result.errors and not result.problems:
        stdout += result.output
    return Report(EXIT_FINDINGS, stdout + lines(f"nginx -t failed ({tested})"), stderr)


def check_command(
    environments: Path | None,
    config: Sequence[Path] | None,
    image: str | None,
    engine: EngineKind,
    nginx_binary: str,
    settings_file: Path | None,
    output_format: OutputFormat,
) -> Report:
    if config and environments:
        raise UsageError("give --environments or --config, not both")
    project = open_project(settings_file, environments)
    if config:
        configs = configs_from_files(config)
    else:
        configs = configs_from_environments(project.directory, project.settings)
    chosen = make_engine(engine, resolve_image(image, project.settings), nginx_binary)
    result = check(configs, chosen)
    if output_format is OutputFormat.json:
        return json_report(as_document(result), EXIT_OK if result.ok else EXIT_FINDINGS)
    return as_text(result)
