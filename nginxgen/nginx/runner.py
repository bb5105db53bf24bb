"""`nginx -t` with a real nginx, and its messages located in the generated output.

Two engines behind one interface: `DockerEngine` tests in a throwaway container of an nginx image,
with the configs as `conf.d` files under the image's own stock `nginx.conf` (the way users load
them); `LocalEngine` uses the host's nginx binary with a temporary prefix directory. Either way
every TLS file the configs name is replaced by a placeholder (see `placeholder_certs`).
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import Any, Protocol, Self

from nginxgen.core.errors import EnvironmentUnavailable
from nginxgen.core.facts import CONF_D, NGINX_PREFIX, conf_d_name
from nginxgen.core.markers import EnvironmentMarker, environment_at
from nginxgen.nginx.placeholder_certs import find_tls_files, placeholder_files

ERROR_LEVELS = frozenset({"emerg", "alert", "crit", "error"})
LOCAL_TIMEOUT_SECONDS = 60

# Before its error log is open nginx writes `nginx: [emerg] ...`; once it is (Debian's builds log
# to stderr), `2026/01/31 12:00:00 [emerg] 6#6: ...`.
NGINX_MESSAGE = re.compile(
    r"^(?:nginx: |\d{4}/\d\d/\d\d \d\d:\d\d:\d\d )\[(?P<level>[a-z]+)\] (?:\d+#\d+: )?"
    r"(?:\*\d+ )?(?P<text>.*?)(?: in (?P<path>\S+):(?P<line>\d+))?$"
)
NGINX_VERSION = re.compile(r"^nginx version: (?P<version>\S+)", re.MULTILINE)
TLS_FILE_DIRECTIVE = re.compile(
    r"(?<![\w$])(?P<directive>ssl_certificate(?:_key)?|ssl_trusted_certificate"
    r"|ssl_client_certificate)(?P<space>\s+)(?P<quote>[\"']?)(?P<path>[^\"';\s]+)(?P=quote)"
    r"(?=\s*;)"
)


class EngineKind(StrEnum):
    """Where nginx runs: a throwaway Docker container, or the host's own binary."""

    docker = "docker"
    local = "local"


@dataclass(frozen=True)
class ConfigFile:
    """A config fragment to test, named as the `conf.d` file it becomes."""

    name: str
    text: str


@dataclass(frozen=True)
class NginxMessage:
    """One message of `nginx -t`, located in the tested configs where nginx named a line there."""

    level: str
    text: str
    config: str | None = None
    line: int | None = None
    environment: EnvironmentMarker | None = None

    @property
    def is_error(self) -> bool:
        return self.level in ERROR_LEVELS

    def __str__(self) -> str:
        where = f"{self.config}:{self.line}: " if self.config else ""
        source = (
            f" (environment {self.environment.name}, from {self.environment.file})"
            if self.environment
            else ""
        )
        return f"{where}[{self.level}] {self.text}{source}"


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
    version = NGINX_VERSION.search(run.output)
    return CheckResult(
        ok=run.exit_code == 0,
        nginx_version=version["version"] if version else "unknown",
        engine=engine.description,
        output=run.output,
        messages=tuple(parse_messages(run.output, run.config_paths, texts)),
        notes=notes,
    )


def parse_messages(
    output: str, config_paths: Mapping[str, str], texts: Mapping[str, str]
) -> list[NginxMessage]:
    """nginx's `[level]` messages; those in a tested config carry its name, line and environment."""
    messages = []
    for output_line in output.splitlines():
        match = NGINX_MESSAGE.match(output_line.strip())
        if not match:
            continue
        config = config_paths.get(match["path"] or "")
        if config is None:
            # Not in a tested config (or no location at all): keep nginx's own words whole.
            text = match["text"]
            if match["path"]:
                text = f"{text} in {match['path']}:{match['line']}"
            messages.append(NginxMessage(match["level"], text))
            continue
        line = int(match["line"])
        messages.append(
            NginxMessage(
                level=match["level"],
                text=match["text"],
                config=config,
                line=line,
                environment=environment_at(texts.get(config, ""), line),
            )
        )
    return messages


def rewrite_tls_paths(text: str, replacements: Mapping[str, str]) -> tuple[str, int]:
    """`text` with the TLS file paths in `replacements` swapped; also how many were swapped.

    Line numbers are kept, so nginx's messages about the copy point at the original's lines.
    """
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        new_path = replacements.get(match["path"])
        if new_path is None:
            return match[0]
        count += 1
        return f"{match['directive']}{match['space']}{match['quote']}{new_path}{match['quote']}"

    return TLS_FILE_DIRECTIVE.sub(replace, text), count


class DockerEngine:
    """`nginx -t` in a throwaway container of `image`, configs in its `/etc/nginx/conf.d/`.

    Each `run_test` starts and removes its own container; inside `with DockerEngine(...)` the
    runs share one container (the files of a run are removed after it).
    """

    def __init__(self, image: str, *, pull: bool = True) -> None:
        self.image = image
        self.pull = pull
        self._container: Any = None

    @property
    def description(self) -> str:
        return f"Docker image {self.image}"

    def __enter__(self) -> Self:
        self._container = self._start_container()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        container, self._container = self._container, None
        if container is not None:
            container.remove(force=True)

    def run_test(self, configs: Sequence[ConfigFile], files: Mapping[str, bytes]) -> EngineRun:
        if self._container is None:
            with self:
                return self.run_test(configs, files)
        config_paths = {f"{CONF_D}/{conf_d_name(config.name)}": config.name for config in configs}
        placed = dict(_config_bytes(configs))
        placed.update(
            {str(PurePosixPath(NGINX_PREFIX) / path): data for path, data in files.items()}
        )
        container = self._container
        container.put_archive("/", tar_archive(placed))
        try:
            exit_code, output = container.exec_run(["nginx", "-v", "-t"])
        finally:
            container.exec_run(["rm", "-f", "--", *placed])
        return EngineRun(exit_code, output.decode("utf-8", "replace"), config_paths)

    def _start_container(self) -> Any:
        client = docker_client()
        ensure_image(client, self.image, pull=self.pull)
        # The container only hosts `nginx -t` runs; no network, so the test neither depends on
        # nor sends traffic anywhere (a literal upstream host fails, as it would at startup).
        container = client.containers.create(
            self.image,
            entrypoint=["sleep"],
            command=["86400"],
            network_disabled=True,
            labels={"nginxgen": "check"},
        )
        try:
            container.start()
        except Exception:
            container.remove(force=True)
            raise
        return container


def docker_client() -> Any:
    """A Docker client that answered a ping, or `EnvironmentUnavailable` saying what to do."""
    import docker
    from docker.errors import DockerException

    try:
        client = docker.from_env()
        client.ping()
    except DockerException as error:
        raise EnvironmentUnavailable(
            f"Docker is not reachable: {error}\n"
            "Start the Docker daemon (or point DOCKER_HOST at one), or test with the host's "
            "nginx instead: `nginxgen check --engine local`."
        ) from error
    return client


def ensure_image(client: Any, image: str, *, pull: bool) -> None:
    """Make sure `image` is there, pulled if missing and allowed; else `EnvironmentUnavailable`."""
    from docker.errors import DockerException, ImageNotFound

    try:
        client.images.get(image)
        return
    except ImageNotFound:
        pass
    reason = "pulling is off"
    if pull:
        try:
            client.images.pull(image)
            return
        except DockerException as error:
            reason = f"pulling it failed: {error}"
    raise EnvironmentUnavailable(
        f"The nginx image {image!r} is not available locally and {reason}.\n"
        f"Pull or build it (`docker pull {image}`), or choose another image with --image, "
        "the NGINXGEN_NGINX_IMAGE environment variable or `check.image` in nginxgen.yaml."
    )


class LocalEngine:
    """`nginx -t` with the host's nginx binary, in a temporary prefix directory.

    The configs are included from a minimal main config. TLS file paths are absolute paths of the
    production host, so the configs are tested as copies whose paths point at placeholders inside
    the prefix; the run's notes say so.
    """

    def __init__(self, nginx_binary: str = "nginx") -> None:
        self.nginx_binary = nginx_binary

    @property
    def description(self) -> str:
        return f"local nginx binary {self.nginx_binary}"

    def run_test(self, configs: Sequence[ConfigFile], files: Mapping[str, bytes]) -> EngineRun:
        binary = shutil.which(self.nginx_binary)
        if binary is None:
            raise EnvironmentUnavailable(
                f"No nginx binary {self.nginx_binary!r} found on this machine.\n"
                "Install nginx (Debian: `apt-get install nginx-light`) or test in Docker: "
                "`nginxgen check --engine docker`."
            )
        with tempfile.TemporaryDirectory(prefix="nginxgen-check-") as directory:
            prefix = Path(directory)
            replacements = {
                path: str(prefix / "placeholders" / path.lstrip("/")) for path in sorted(files)
            }
            for path, data in files.items():
                target = Path(replacements[path])
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            conf_d = prefix / "conf.d"
            conf_d.mkdir()
            (prefix / "temp").mkdir()
            config_paths = {}
            rewritten = 0
            for config in configs:
                text, count = rewrite_tls_paths(config.text, replacements)
                rewritten += count
                config_path = conf_d / conf_d_name(config.name)
                config_path.write_text(text, encoding="utf-8")
                config_paths[str(config_path)] = config.name
            main_config = prefix / "nginx.conf"
            main_config.write_text(_local_main_config(prefix), encoding="utf-8")
            completed = subprocess.run(
                [
                    binary,
                    "-p",
                    f"{prefix}/",
                    "-c",
                    str(main_config),
                    "-e",
                    "stderr",
                    "-g",
                    f"pid {prefix}/nginx.pid;",
                    "-v",
                    "-t",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=LOCAL_TIMEOUT_SECONDS,
                check=False,
            )
        notes = (
            (
                f"{rewritten} TLS file path(s) were pointed at placeholders in a temporary prefix "
                "(the local engine cannot write to the absolute paths)",
            )
            if rewritten
            else ()
        )
        return EngineRun(completed.returncode, completed.stdout, config_paths, notes)


def _local_main_config(prefix: Path) -> str:
    # Only what nginx needs to run at all, so a fragment's own http-level directives cannot clash
    # with ours; the temporary paths would otherwise be the compiled-in ones under /var.
    temp = prefix / "temp"
    return "\n".join(
        [
            "events {}",
            "http {",
            f"    client_body_temp_path {temp}/client_body;",
            f"    proxy_temp_path {temp}/proxy;",
            f"    fastcgi_temp_path {temp}/fastcgi;",
            f"    uwsgi_temp_path {temp}/uwsgi;",
            f"    scgi_temp_path {temp}/scgi;",
            f"    include {prefix}/conf.d/*.conf;",
            "}",
            "",
        ]
    )


def _config_bytes(configs: Iterable[ConfigFile]) -> Iterable[tuple[str, bytes]]:
    for config in configs:
        yield f"{CONF_D}/{conf_d_name(config.name)}", config.text.encode("utf-8")


def tar_archive(files: Mapping[str, bytes]) -> bytes:
    """A tar of `files` at their absolute paths (with their directories), to extract at `/`."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        directories = sorted(
            {str(parent) for path in files for parent in PurePosixPath(path).parents} - {"/"}
        )
        for directory in directories:
            info = tarfile.TarInfo(directory.lstrip("/"))
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            archive.addfile(info)
        for path, data in sorted(files.items()):
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size = len(data)
            # Keys too: the master process reads them as root before dropping privileges.
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
