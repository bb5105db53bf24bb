"""`nginxgen new`: the text of a new environment file, proven valid before anyone writes it."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from nginxgen.core.errors import UsageError
from nginxgen.generation.fields import environment_name_problem
from nginxgen.generation.loader import (
    LoadedEnvironment,
    display_path,
    environment_files,
    load_environments,
    validate,
)
from nginxgen.generation.models import Environment, Settings
from nginxgen.generation.plan import build_plan

_SERVICE = re.compile(r"(?P<host>[^:\s]+):(?P<port>[0-9]{1,5})")


def parse_service(value: str) -> tuple[str, int]:
    """`HOST:PORT` → (host, port); the models validate both afterwards."""
    match = _SERVICE.fullmatch(value)
    if not match:
        raise UsageError(f"--service {value!r}: expected HOST:PORT, e.g. app-shop:3000")
    return match["host"], int(match["port"])


def environment_text(name: str, domains: list[str], host: str, port: int) -> str:
    service = {"app": {"host": host, "port": port}}
    body = yaml.safe_dump(
        {"domains": domains, "services": service}, default_flow_style=None, sort_keys=False
    )
    return (
        f"# Environment {name!r}: one file per environment; the file name is its name.\n"
        "# TLS defaults to Let's Encrypt's files of the first domain; `tls: false` is HTTP only.\n"
        f"{body}"
        "routes:\n"
        "  - {path: /, service: app}\n"
    )


def new_environment(
    name: str, domains: list[str], service: str, directory: Path, settings: Settings
) -> tuple[Path, str]:
    """The path and text of a new environment file, valid alone and beside every existing one.

    Raises UsageError or ConfigError (nothing is written by this module).
    """
    problem = environment_name_problem(name)
    if problem:
        raise UsageError(problem)
    path = directory / f"{name}.yaml"
    if path.exists():
        raise UsageError(f"{display_path(path)} already exists; edit it instead")
    host, port = parse_service(service)
    text = environment_text(name, domains, host, port)
    model, source = validate(Environment, text, display_path(path))
    existing = load_environments(directory) if environment_files(directory) else []
    build_plan([*existing, LoadedEnvironment(name, model, source)], settings)
    return path, text
