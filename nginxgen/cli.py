"""The `nginxgen` command: parses options, calls one module of `nginxgen.commands`, prints the
`Report` it returns. The only module that prints.

Exit codes: 0 ok · 1 findings (drift, lint, `nginx -t` failed) · 2 invalid input or usage ·
3 unexpected bug (traceback only with `--debug`). Command modules are imported inside each
command, so that `nginxgen render` never loads Docker or cryptography.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from nginxgen.core.formats import (
    AnnotatedFormat,
    EngineKind,
    OutputFormat,
    SchemaKind,
    StatusFormat,
)

if TYPE_CHECKING:
    from nginxgen.commands.result import Report

EXIT_BUG = 3

app = typer.Typer(
    name="nginxgen",
    help="Generate startup-safe nginx reverse-proxy configuration from environment files.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Set by the `--debug` option of the callback, read by the error boundary.
_debug = False


def run(command: Callable[[], Report]) -> None:
    """The one error boundary: print the command's report and exit with its code; user errors
    exit 2 (or their own code), anything else is a bug (3)."""
    from nginxgen.core.errors import ConfigError, NginxgenError

    try:
        report = command()
    except NginxgenError as error:
        message = str(error) if isinstance(error, ConfigError) else f"nginxgen: {error}"
        typer.echo(message, err=True)
        raise typer.Exit(code=error.exit_code) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as error:
        if _debug:
            raise
        typer.echo(
            f"nginxgen: internal error: {type(error).__name__}: {error}\n"
            "This is a bug in nginxgen; run again with --debug for the traceback.",
            err=True,
        )
        raise typer.Exit(code=EXIT_BUG) from None
    if report.stderr:
        typer.echo(report.stderr, err=True, nl=False)
    if report.stdout:
        typer.echo(report.stdout, nl=False)
    if report.exit_code:
        raise typer.Exit(code=report.exit_code)


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
FormatOption = Annotated[OutputFormat, typer.Option("--format", help="text or json")]


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


@app.command()
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
    from nginxgen.commands import render as command

    run(lambda: command.render(environments, output, check, settings_file))


@app.command()
def validate(
    environments: EnvironmentsOption = None,
    settings_file: SettingsOption = None,
    output_format: FormatOption = OutputFormat.text,
) -> None:
    """Validate the environment files (and nginxgen.yaml) without rendering anything."""
    from nginxgen.commands import validate as command

    run(lambda: command.validate(environments, settings_file, output_format))


@app.command()
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
    from nginxgen.commands import new as command

    run(lambda: command.new(name, domain, service, environments, settings_file))


@app.command()
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
        EngineKind,
        typer.Option(
            "--engine", help="docker: a throwaway container; local: the host's nginx binary"
        ),
    ] = EngineKind.docker,
    nginx_binary: Annotated[
        str, typer.Option("--nginx-binary", help="nginx binary of --engine local")
    ] = "nginx",
    settings_file: SettingsOption = None,
    output_format: FormatOption = OutputFormat.text,
) -> None:
    """Run `nginx -t` on the output (or given files) with a real nginx; placeholder certs."""
    from nginxgen.commands.check import check_command

    run(
        lambda: check_command(
            environments, config, image, engine, nginx_binary, settings_file, output_format
        )
    )


@app.command()
def compose(
    environments: EnvironmentsOption = None,
    settings_file: SettingsOption = None,
    mtail_program: Annotated[
        bool,
        typer.Option(
            "--mtail-program",
            help="Print the mtail program of the metrics service instead (needs metrics:)",
        ),
    ] = False,
) -> None:
    """Print a docker-compose service for the nginx proxy that runs the output."""
    from nginxgen.commands import compose as command

    run(lambda: command.compose(environments, settings_file, mtail_program))


@app.command()
def stack(
    environments: EnvironmentsOption = None,
    settings_file: SettingsOption = None,
    network: Annotated[
        str, typer.Option("--network", help="the attachable overlay network the stack creates")
    ] = "nginxgen",
    http_port: Annotated[
        int, typer.Option("--http-port", min=1, max=65535, help="published port for HTTP")
    ] = 80,
    https_port: Annotated[
        int, typer.Option("--https-port", min=1, max=65535, help="published port for HTTPS")
    ] = 443,
    image: Annotated[
        str | None, typer.Option("--image", help="nginx image (default: check.image)")
    ] = None,
) -> None:
    """Print a Docker Swarm stack file for the nginx proxy that runs the output."""
    from nginxgen.commands import stack as command

    run(
        lambda: command.stack(
            environments,
            settings_file,
            network=network,
            http_port=http_port,
            https_port=https_port,
            image=image,
        )
    )


@app.command()
def schema(
    kind: Annotated[SchemaKind, typer.Argument(help="Which file")] = SchemaKind.environment,
) -> None:
    """Print the JSON Schema of the environment file (or nginxgen.yaml) for editors."""
    from nginxgen.commands import schema as command

    run(lambda: command.schema(kind))


@app.command()
def lint(
    paths: Annotated[
        list[str],
        typer.Argument(help="nginx.conf, conf.d files or directories; - reads `nginx -T` output"),
    ],
    output_format: Annotated[
        AnnotatedFormat, typer.Option("--format", help="text, json or github")
    ] = AnnotatedFormat.text,
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
    from nginxgen.commands import lint as command

    run(lambda: command.lint(paths, output_format, select, ignore, nginx_version, docker))


certs_app = typer.Typer(
    help="Check the certificate files the environments name: key, chain, names, expiry; "
    "`certs renew` renews what ACME keeps.",
    no_args_is_help=False,
)
app.add_typer(certs_app, name="certs")


@certs_app.callback(invoke_without_command=True)
def certs(
    context: typer.Context,
    environments: EnvironmentsOption = None,
    settings_file: SettingsOption = None,
    warn_days: Annotated[
        int, typer.Option("--warn-days", min=0, help="Warn when a certificate expires sooner")
    ] = 21,
    output_format: FormatOption = OutputFormat.text,
    root: Annotated[
        Path | None,
        typer.Option(
            "--root",
            help="read every path under DIR [default: /etc/letsencrypt from ./certbot/conf "
            "when it exists, as `nginxgen compose` mounts it]",
        ),
    ] = None,
) -> None:
    """Check the certificate files the environments name where the proxy sees them: key,
    chain, names, expiry; with `acme` set, what the next deploy obtains."""
    if context.invoked_subcommand is not None:
        return
    from nginxgen.commands import certs as command

    run(lambda: command.certs(environments, settings_file, warn_days, output_format, root=root))


@app.command("test")
def route_test(
    environments: EnvironmentsOption = None,
    image: Annotated[
        str | None,
        typer.Option(
            "--image",
            help="nginx image [default: $NGINXGEN_NGINX_IMAGE, check.image, nginx:stable]",
        ),
    ] = None,
    chaos: Annotated[
        bool,
        typer.Option("--chaos", help="also start with every service down, then each down in turn"),
    ] = False,
    settings_file: SettingsOption = None,
    output_format: Annotated[
        AnnotatedFormat, typer.Option("--format", help="text, json or github")
    ] = AnnotatedFormat.text,
) -> None:
    """Send the environments' test requests to a real nginx (Docker) and compare the answers."""
    from nginxgen.commands.route_test import route_test as command

    run(lambda: command(environments, image, settings_file, output_format, chaos))


@app.command()
def explain(
    request: Annotated[str, typer.Argument(help='e.g. "GET https://daatan.com/api/v2/x"')],
    environments: EnvironmentsOption = None,
    image: Annotated[
        str | None,
        typer.Option(
            "--image",
            help="nginx image [default: $NGINXGEN_NGINX_IMAGE, check.image, nginx:stable]",
        ),
    ] = None,
    settings_file: SettingsOption = None,
    output_format: FormatOption = OutputFormat.text,
) -> None:
    """Run one request in a real nginx: which environment, route and service answer it."""
    from nginxgen.commands.explain import explain as command

    run(lambda: command(request, environments, image, settings_file, output_format))


ContainerOption = Annotated[
    str | None, typer.Option("--container", help="The proxy container, by name or id")
]
ComposeServiceOption = Annotated[
    str | None,
    typer.Option(
        "--compose-service", help="Find the proxy by its compose service [default: nginx]"
    ),
]
SwarmServiceOption = Annotated[
    str | None,
    typer.Option(
        "--swarm-service",
        help="Every running task of this Swarm service on this Docker host (one node)",
    ),
]


@app.command()
def deploy(
    container: ContainerOption = None,
    compose_service: ComposeServiceOption = None,
    swarm_service: SwarmServiceOption = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Show the diff and test it in the proxy; change nothing"),
    ] = False,
    keep: Annotated[int, typer.Option("--keep", min=1, help="Deployed versions to keep")] = 10,
    environments: EnvironmentsOption = None,
    settings_file: SettingsOption = None,
) -> None:
    """Put the output into the running proxy: tested there, swapped, reloaded, verified, probed."""
    from nginxgen.commands import deploy as command

    run(
        lambda: command.deploy(
            container,
            compose_service,
            dry_run,
            keep,
            environments,
            settings_file,
            swarm_service=swarm_service,
        )
    )


@certs_app.command("renew")
def certs_renew(
    force: Annotated[
        bool, typer.Option("--force", help="renew every certificate, not only those due")
    ] = False,
    container: ContainerOption = None,
    compose_service: ComposeServiceOption = None,
    swarm_service: SwarmServiceOption = None,
    environments: EnvironmentsOption = None,
    settings_file: SettingsOption = None,
) -> None:
    """Renew the certificates due within acme.renew_before, then reload through the deploy path."""
    from nginxgen.commands import certs as command

    run(
        lambda: command.renew(
            force, container, compose_service, swarm_service, environments, settings_file
        )
    )


@app.command()
def rollback(
    to: Annotated[
        str | None, typer.Option("--to", help="Kept version (name or prefix) [default: previous]")
    ] = None,
    container: ContainerOption = None,
    compose_service: ComposeServiceOption = None,
    swarm_service: SwarmServiceOption = None,
    settings_file: SettingsOption = None,
) -> None:
    """Put a kept deployed version back into the running proxy, tested and verified."""
    from nginxgen.commands import rollback as command

    run(lambda: command.rollback(to, container, compose_service, settings_file, swarm_service))


@app.command()
def status(
    container: ContainerOption = None,
    compose_service: ComposeServiceOption = None,
    swarm_service: SwarmServiceOption = None,
    environments: EnvironmentsOption = None,
    settings_file: SettingsOption = None,
    output_format: Annotated[
        StatusFormat,
        typer.Option("--format", help="text, json or openmetrics (docs/metrics.md)"),
    ] = StatusFormat.text,
) -> None:
    """Read-only: live version, networks, services, certificates and htpasswd in the proxy."""
    from nginxgen.commands.status import status as status_command

    run(
        lambda: status_command(
            container,
            compose_service,
            environments,
            settings_file,
            output_format,
            swarm_service=swarm_service,
        )
    )


@app.command("import")
def import_(
    path: Annotated[str, typer.Argument(help="nginx.conf, a conf.d file, or - for `nginx -T`")],
    into: Annotated[
        Path, typer.Option("--into", help="Project directory to write into", file_okay=False)
    ] = Path(),
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be written; write nothing")
    ] = False,
    output_format: FormatOption = OutputFormat.text,
    verify: Annotated[
        bool,
        typer.Option("--verify", help="Run the original and the generated config in real nginx"),
    ] = False,
    image: Annotated[
        str | None, typer.Option("--image", help="nginx image for --verify [default: as check]")
    ] = None,
) -> None:
    """Adopt an existing nginx config: environment files, and a comparison proving them."""
    from nginxgen.commands import import_ as command

    run(lambda: command.import_config(path, into, dry_run, output_format, verify, image))


def main() -> None:
    app()
