"""The proxy container through the Docker SDK: finding it, its mounts and networks, its files
(read and written with the archive API), its log, and commands run inside it.

The Docker host is the SDK's: `DOCKER_HOST` as usual, so `DOCKER_HOST=ssh://user@server` reaches
a remote proxy over SSH with the SDK's own transport. Nothing here decides anything; it reads
and writes what `live.py` and the commands ask for.
"""

from __future__ import annotations

import io
import posixpath
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from docker import DockerClient
from docker.errors import APIError, NotFound
from docker.models.containers import Container

from nginxgen.core.errors import EnvironmentUnavailable
from nginxgen.docker.selection import (
    COMPOSE_SERVICE_LABEL,
    ByComposeService,
    ByContainer,
    ContainerSummary,
    project_container,
)
from nginxgen.nginx.docker_engine import docker_client


@dataclass(frozen=True)
class Mount:
    """A bind mount or volume of the container: `source` on the Docker host (or volume name)."""

    kind: str
    source: str
    destination: str
    writable: bool


@dataclass(frozen=True)
class Exec:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


# How long one command inside the proxy may take: the SDK's exec has no timeout of its own, and a
# hung `nginx -t` or probe must not hang a deploy (coreutils' and busybox's `timeout` both take
# this form; exit 124 when it fires).
COMMAND_TIMEOUT_SECONDS = 60
TIMED_OUT = 124


class ProxyContainer:
    """The running nginx container a deploy or status works on."""

    def __init__(self, container: Container) -> None:
        self.container = container
        self._timeout: list[str] | None = None

    @property
    def name(self) -> str:
        return str(self.container.name)

    @property
    def client(self) -> DockerClient:
        """The client that found this container: one connection (one SSH login over
        `DOCKER_HOST=ssh://`) for everything a command does on the proxy's host."""
        client = self.container.client
        if client is None:  # a container the SDK did not fetch: never so for a found proxy
            raise RuntimeError(f"container {self.name} has no Docker client")
        return client

    def mounts(self) -> tuple[Mount, ...]:
        self.container.reload()
        return tuple(
            Mount(
                kind=str(mount.get("Type", "")),
                source=str(mount.get("Source") or mount.get("Name") or ""),
                destination=str(mount.get("Destination", "")),
                writable=bool(mount.get("RW", False)),
            )
            for mount in self.container.attrs.get("Mounts", [])
        )

    def networks(self) -> tuple[str, ...]:
        self.container.reload()
        settings = self.container.attrs.get("NetworkSettings", {})
        return tuple(sorted(settings.get("Networks", {}) or {}))

    def run(self, argv: Sequence[str]) -> Exec:
        """`argv` inside the container, stdout and stderr apart, bounded by `timeout` where the
        image has it (every nginx image does; one without it runs the command unbounded)."""
        if self._timeout is None:
            found = self.container.exec_run(["sh", "-c", "command -v timeout"])
            self._timeout = (
                ["timeout", str(COMMAND_TIMEOUT_SECONDS)] if found.exit_code == 0 else []
            )
        exit_code, output = self.container.exec_run([*self._timeout, *argv], demux=True)
        if exit_code == TIMED_OUT and self._timeout:
            return Exec(
                TIMED_OUT, "", f"{argv[0]} did not finish within {COMMAND_TIMEOUT_SECONDS} s"
            )
        # With demux the SDK returns (stdout, stderr), either None when the stream was empty.
        stdout, stderr = output if isinstance(output, tuple) else (None, None)
        return Exec(
            exit_code if exit_code is not None else -1,
            (stdout or b"").decode("utf-8", "replace"),
            (stderr or b"").decode("utf-8", "replace"),
        )

    def shell(self, script: str, *arguments: str) -> Exec:
        """A POSIX sh `script` with `arguments` as $1…, never interpolated into the script."""
        return self.run(["sh", "-c", script, "nginxgen", *arguments])

    def is_directory(self, path: str) -> bool:
        return self.run(["test", "-d", path]).exit_code == 0

    def is_file(self, path: str) -> bool:
        return self.run(["test", "-f", path]).exit_code == 0

    def read_file(self, path: str, _links: int = 8) -> bytes:
        """The file at `path` as the container sees it; `FileNotFoundError` when it is not there.
        Symbolic links are followed (certbot's live/ files are links into archive/)."""
        try:
            chunks, _ = self.container.get_archive(path)
        except NotFound:
            raise FileNotFoundError(path) from None
        with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as archive:
            for member in archive.getmembers():
                if member.isdir():
                    raise IsADirectoryError(path)
                if member.issym():
                    if not _links:
                        raise FileNotFoundError(f"{path}: too many levels of symbolic links")
                    target = posixpath.join(posixpath.dirname(path), member.linkname)
                    return self.read_file(posixpath.normpath(target), _links - 1)
                extracted = archive.extractfile(member)
                if extracted is not None:
                    return extracted.read()
        raise FileNotFoundError(path)

    def read_text(self, path: str) -> str | None:
        try:
            return self.read_file(path).decode("utf-8", "replace")
        except (FileNotFoundError, IsADirectoryError):
            return None

    def write_files(self, directory: str, files: Mapping[str, bytes], mtime: float = 0) -> None:
        """`files` (name → content) into `directory`, which must exist; mode 0644."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            for name, data in files.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mode = 0o644
                info.mtime = int(mtime)
                archive.addfile(info, io.BytesIO(data))
        try:
            self.container.put_archive(directory, buffer.getvalue())
        except APIError as error:
            raise EnvironmentUnavailable(
                f"cannot write into {directory} of container {self.name}: {error.explanation}"
            ) from error

    def list_directory(self, directory: str) -> list[tuple[str, float]]:
        """Regular files of `directory` with their modification times; none when it is absent."""
        result = self.shell(
            'cd "$1" 2>/dev/null || exit 0; for f in *; do [ -f "$f" ] && '
            'printf "%s %s\\n" "$(stat -c %Y "$f")" "$f"; done; exit 0',
            directory,
        )
        entries = []
        for line in result.stdout.splitlines():
            stamp, _, name = line.partition(" ")
            if name:
                entries.append((name, float(stamp)))
        return entries

    def now(self) -> float:
        """The Docker host's clock, read inside the container (log timestamps use it)."""
        result = self.run(["date", "+%s.%N"])
        try:
            return float(result.stdout.strip())
        except ValueError:
            return float(self.run(["date", "+%s"]).stdout.strip())

    def logs_since(self, moment: float) -> str:
        data = self.container.logs(stdout=True, stderr=True, since=moment)
        return data.decode("utf-8", "replace")


def connect() -> DockerClient:
    """The one client of a command: over ssh:// every call shares its SSH connection, so a
    command connects once and hands this client to everything it does."""
    client: DockerClient = docker_client()
    return client


def find_proxy(client: DockerClient, selection: ByContainer | ByComposeService) -> ProxyContainer:
    """The running proxy: the container named, or this project's container of the compose
    service (never another project's; `selection.py` decides which)."""
    if isinstance(selection, ByContainer):
        name = selection.name
    else:
        found = client.containers.list(
            all=True, filters={"label": f"{COMPOSE_SERVICE_LABEL}={selection.service}"}
        )
        summaries = [
            ContainerSummary(str(item.name), str(item.status), dict(item.labels or {}))
            for item in found
        ]
        name = project_container(selection, summaries)
    try:
        container = client.containers.get(name)
    except NotFound:
        raise EnvironmentUnavailable(f"no container named {name!r}") from None
    if container.status != "running":
        raise EnvironmentUnavailable(f"container {name!r} is {container.status}, not running")
    return ProxyContainer(container)


def parent(path: str) -> str:
    return str(PurePosixPath(path).parent)
