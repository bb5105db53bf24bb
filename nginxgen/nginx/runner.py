"""`nginx -t` with a real nginx, and its messages located in the generated output.

Two engines behind one interface (`Engine`): `docker_engine.DockerEngine` tests in a throwaway
container of an nginx image; `local_engine.LocalEngine` uses the host's nginx binary. Either way
every TLS file the configs name is replaced by a placeholder (see `placeholder_certs`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from nginxgen.nginx.messages import NginxMessage, nginx_version, parse_messages
from nginxgen.nginx.placeholder_certs import find_tls_files, placeholder_files


@dataclass(frozen=True)
class ConfigFile:
    """A config fragment to test, named as the `conf.d` file it becomes."""

    name: str
    text: str


@dataclass(frozen=True)
class CheckResult:
    """What `nginx -t` said about a set of configs."""

    ok: bool
    nginx_version: str
    engine: str
    output: str
    messages: tuple[NginxMessage, ...]
    notes: tuple[str, ...] = ()
    # Failures nginx itself does not report, e.g. an nginx older than the output needs.
    problems: tuple[str, ...] = ()

    @property
    def errors(self) -> tuple[NginxMessage, ...]:
        return tuple(message for message in self.messages if message.is_error)


@dataclass(frozen=True)
class EngineRun:
    """The raw outcome of `nginx -v -t` in an engine."""

    exit_code: int
    output: str
    # Each tested config's path as nginx names it in messages → the config's name.
    config_paths: Mapping[str, str]
    notes: tuple[str, ...] = ()


class Engine(Protocol):
    """Somewhere to run `nginx -t`: configs as `conf.d` files, `files` at the paths they name."""

    @property
    def description(self) -> str: ...

    def run_test(self, configs: Sequence[ConfigFile], files: Mapping[str, bytes]) -> EngineRun: ...


def nginx_test(configs: Sequence[ConfigFile], engine: Engine) -> CheckResult:
    """Test `configs` together, as one nginx would load them, with placeholder TLS files."""
    files = placeholder_files(find_tls_files(config.text for config in configs))
    run = engine.run_test(configs, files)
    texts = {config.name: config.text for config in configs}
    notes = run.notes
    if files:
        notes = (f"{len(files)} TLS file(s) replaced by self-signed placeholders", *notes)
    return CheckResult(
        ok=run.exit_code == 0,
        nginx_version=nginx_version(run.output),
        engine=engine.description,
        output=run.output,
        messages=tuple(parse_messages(run.output, run.config_paths, texts)),
        notes=notes,
    )
