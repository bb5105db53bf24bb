"""The `nginxgen` command: thin typer commands over the library; the only module that prints.

Exit codes: 0 ok · 1 findings (drift, lint, `nginx -t` failed) · 2 invalid input or usage ·
3 unexpected bug (traceback only with `--debug`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from nginxgen.errors import ConfigError, NginxgenError

if TYPE_CHECKING:
    from nginxgen.models import Settings
    from nginxgen.plan import Plan

EXIT_OK, EXIT_FINDINGS, EXIT_INVALID, EXIT_BUG = 0, 1, 2, 3

app = typer.Typer(
    name="nginxgen",
    help="Generate startup-safe nginx reverse-proxy configuration from environment files.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

Command = TypeVar("Command", bound=Callable[..., Any])

# Set by the `--debug` option of the callback, read by the error boundary.
_debug = False


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


def _error(message: str) -> None:
    typer.echo(message, err=True)


def handled(command: Command) -> Command:
    """Run a command inside the one error boundary: user errors exit 2 (or their code), bugs 3."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except NginxgenError as error:
            _error(f"nginxgen: {error}" if not isinstance(error, ConfigError) else str(error))
            raise typer.Exit(code=error.exit_code) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception as error:
            if _debug:
                raise
            _error(
                f"nginxgen: internal error: {type(error).__name__}: {error}\n"
                "This is a bug in nginxgen; run again with --debug for the traceback."
            )
            raise typer.Exit(code=EXIT_BUG) from None

    return wrapper  # type: ignore[return-value]


SettingsOption = Annotated[
    Path | None,
    typer.Option(
        "--settings",
        help="Settings file [default: ./nginxgen.yaml if present]",
        dir_okay=False,
    ),
]
EnvironmentsOption = Annotated[
    Path | None,
    typer.Option(
        "--environments",
        "-e",
        help="Directory of environment files [default: from settings, environments/]",
        file_okay=False,
    ),
]


def _print_version(value: bool) -> None:
    if value:
        from nginxgen import __version__

        typer.echo(f"nginxgen {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks of internal errors.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    global _debug
    _debug = debug


def _project(settings_file: Path | None, environments: Path | None) -> tuple[Settings, Path]:
    from nginxgen.loader import load_settings, read_environments
    from nginxgen.models import Settings

    try:
        settings = load_settings(settings_file)
    except ConfigError as error:
        # Report the environment files' own problems in the same run, as far as they show
        # without settings.
        directory = environments or Path(Settings().environments)
        try:
            _, problems = read_environments(directory)
        except ConfigError as unreadable:
            problems = unreadable.problems
        raise ConfigError([*error.problems, *problems]) from None
    return settings, environments or Path(settings.environments)


def _warn(plan: Plan) -> None:
    for warning in plan.warnings:
        _error(str(warning))


def _plan(settings_file: Path | None, environments: Path | None) -> tuple[Settings, Plan]:
    """The settings and the validated plan of every environment; nothing rendered."""
    from nginxgen.loader import read_environments
    from nginxgen.plan import build_plan

    settings, directory = _project(settings_file, environments)
    loaded, problems = read_environments(directory)
    return settings, build_plan(loaded, settings, problems)


@app.command()
@handled
def render(
    environments: EnvironmentsOption = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="File to write [default: from settings, out/nginx-ssl.conf]"
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Write nothing; exit 1 with a diff if the file is stale."),
    ] = False,
    settings_file: SettingsOption = None,
) -> None:
    """Render every environment into one conf.d file, written atomically after it checks out."""
    from nginxgen.generate import generate
    from nginxgen.loader import display_path
    from nginxgen.output import drift, write_atomic

    settings, directory = _project(settings_file, environments)
    target = output or Path(settings.output)
    generated = generate(directory, settings)
    _warn(generated.plan)
    result = drift(target, generated.text, display_path(target))
    if result.clean:
        # Not even rewritten: tools that watch the file (or its mtime) see no change.
        typer.echo(f"{result.path} is up to date")
        return
    if not check:
        write_atomic(target, generated.text)
        names = ", ".join(env.name for env in generated.plan.environments)
        typer.echo(f"wrote {result.path} ({names})")
        return
    if not result.exists:
        typer.echo(f"{result.path} is missing; run `nginxgen render`")
    else:
        typer.echo(result.diff, nl=False)
        typer.echo(f"{result.path} is stale; run `nginxgen render` and commit the result")
    raise typer.Exit(code=EXIT_FINDINGS)


@app.command()
@handled
def validate(
    environments: EnvironmentsOption = None,
    settings_file: SettingsOption = None,
    output_format: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.text,
) -> None:
    """Validate the environment files (and nginxgen.yaml) without rendering anything."""
    try:
        _, plan = _plan(settings_file, environments)
    except ConfigError as error:
        if output_format is OutputFormat.json:
            problems = [problem.__dict__ for problem in error.problems]
            document = {"valid": False, "problems": problems, "warnings": []}
            typer.echo(json.dumps(document, indent=2))
            raise typer.Exit(code=EXIT_INVALID) from None
        raise
    names = [environment.name for environment in plan.environments]
    if output_format is OutputFormat.json:
        warnings = [warning.__dict__ for warning in plan.warnings]
        document = {"valid": True, "problems": [], "warnings": warnings}
        typer.echo(json.dumps(document, indent=2))
    else:
        _warn(plan)
        typer.echo(f"{len(names)} environment(s) valid: " + ", ".join(names))


@app.command()
@handled
def new(
    name: Annotated[str, typer.Argument(help="Environment name; becomes NAME.yaml")],
    domain: Annotated[
        list[str],
        typer.Option("--domain", help="Domain to serve; repeat for more; first is primary"),
    ],
    service: Annotated[str, typer.Option("--service", help="HOST:PORT of the container")],
    environments: EnvironmentsOption = None,
    settings_file: SettingsOption = None,
) -> None:
    """Create environments/NAME.yaml that validates and renders beside the existing ones."""
    from nginxgen.loader import display_path
    from nginxgen.output import write_atomic
    from nginxgen.scaffold import new_environment

    settings, directory = _project(settings_file, environments)
    path, text = new_environment(name, domain, service, directory, settings)
    write_atomic(path, text)
    typer.echo(f"wrote {display_path(path)}; run `nginxgen render` to regenerate the output")


@app.command()
@handled
def check(
    environments: EnvironmentsOption = None,
    config: Annotated[
        list[Path] | None,
        typer.Option(
            "--config",
            "-c",
            help="Config file to test instead of the rendered environments; repeat for more",
            dir_okay=False,
        ),
    ] = None,
    image: Annotated[
        str | None,
        typer.Option(
            "--image",
            help="nginx image [default: $NGINXGEN_NGINX_IMAGE, check.image, nginx:stable]",
        ),
    ] = None,
    engine: Annotated[
        str, typer.Option("--engine", help="docker: a throwaway container; local: host's nginx")
    ] = "docker",
    nginx_binary: Annotated[
        str, typer.Option("--nginx-binary", help="nginx binary of --engine local")
    ] = "nginx",
    settings_file: SettingsOption = None,
    output_format: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.text,
) -> None:
    """Run `nginx -t` on the output (or given files) with a real nginx; placeholder certs."""
    from nginxgen.check import (
        EngineKind,
        as_document,
        configs_from_environments,
        configs_from_files,
        make_engine,
        resolve_image,
    )
    from nginxgen.check import check as run_check
    from nginxgen.errors import UsageError

    if engine not in {kind.value for kind in EngineKind}:
        raise UsageError(f"--engine must be docker or local, not {engine!r}")
    if config and environments:
        raise UsageError("give --environments or --config, not both")
    settings, directory = _project(settings_file, environments)
    if config:
        configs = configs_from_files(config)
    else:
        configs = configs_from_environments(directory, settings)
    chosen = make_engine(EngineKind(engine), resolve_image(image, settings), nginx_binary)
    result = run_check(configs, chosen)
    if output_format is OutputFormat.json:
        typer.echo(json.dumps(as_document(result), indent=2))
    else:
        for note in result.notes:
            _error(f"note: {note}")
        for message in result.messages:
            if message.is_error:
                typer.echo(str(message))
            else:
                _error(str(message))
        for problem in result.problems:
            typer.echo(problem)
        tested = f"{result.nginx_version}, {result.engine}"
        if result.ok:
            typer.echo(f"nginx -t passed ({tested})")
        else:
            if not result.errors and not result.problems:
                typer.echo(result.output, nl=False)
            typer.echo(f"nginx -t failed ({tested})")
    if not result.ok:
        raise typer.Exit(code=EXIT_FINDINGS)


@app.command()
@handled
def compose(
    environments: EnvironmentsOption = None,
    settings_file: SettingsOption = None,
) -> None:
    """Print a docker-compose service for the nginx proxy that runs the output."""
    from nginxgen.compose import compose_service

    settings, plan = _plan(settings_file, environments)
    typer.echo(compose_service(plan, settings), nl=False)


class SchemaKind(StrEnum):
    environment = "environment"
    settings = "settings"


@app.command()
@handled
def schema(
    kind: Annotated[SchemaKind, typer.Argument(help="Which file")] = SchemaKind.environment,
) -> None:
    """Print the JSON Schema of the environment file (or nginxgen.yaml) for editors."""
    from nginxgen.models import Environment, Settings

    model = Environment if kind is SchemaKind.environment else Settings
    typer.echo(json.dumps(model.model_json_schema(), indent=2, sort_keys=True))


class LintFormat(StrEnum):
    text = "text"
    json = "json"
    github = "github"


@app.command()
@handled
def lint(
    paths: Annotated[
        list[str],
        typer.Argument(help="nginx.conf, conf.d files or directories; - reads `nginx -T` output"),
    ],
    output_format: Annotated[LintFormat, typer.Option("--format")] = LintFormat.text,
    select: Annotated[
        list[str] | None, typer.Option("--select", help="Only these rules: codes or names, a,b")
    ] = None,
    ignore: Annotated[
        list[str] | None, typer.Option("--ignore", help="Skip these rules: codes or names, a,b")
    ] = None,
    nginx_version: Annotated[
        str | None,
        typer.Option("--nginx-version", help="Target nginx X.Y.Z (checks `resolve` support)"),
    ] = None,
    docker: Annotated[
        bool, typer.Option("--docker/--no-docker", help="Expect Docker's DNS 127.0.0.11")
    ] = True,
) -> None:
    """Find what would take an nginx proxy down in any config (see docs/rules.md)."""
    from nginxgen.lint_format import lint_command

    outcome = lint_command(paths, output_format.value, select, ignore, nginx_version, docker)
    typer.echo(outcome.stdout, nl=False)
    if outcome.stderr:
        typer.echo(outcome.stderr, err=True, nl=False)
    if outcome.exit_code:
        raise typer.Exit(code=outcome.exit_code)


@app.command()
@handled
def certs(
    environments: EnvironmentsOption = None,
    settings_file: SettingsOption = None,
    warn_days: Annotated[
        int, typer.Option("--warn-days", min=0, help="Warn when a certificate expires sooner")
    ] = 21,
    output_format: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.text,
) -> None:
    """Check the certificate files the environments name: key, chain, names, expiry."""
    import datetime

    from nginxgen.certs import as_document, as_text, has_errors, inspect_certificates

    _, plan = _plan(settings_file, environments)
    findings = inspect_certificates(plan, datetime.datetime.now(datetime.UTC), warn_days)
    if output_format is OutputFormat.json:
        typer.echo(json.dumps(as_document(findings), indent=2))
    else:
        typer.echo(as_text(findings), nl=False)
    if has_errors(findings):
        raise typer.Exit(code=EXIT_FINDINGS)


def main() -> None:
    app()
