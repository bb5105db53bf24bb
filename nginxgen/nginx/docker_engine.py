"""`nginx -t` in a throwaway container of an nginx image, through the Docker SDK, with the
configs as `conf.d` files under the image's own stock `nginx.conf` (the way users load them)."""

from __future__ import annotations

import io
import os
import tarfile
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePosixPath
from types import TracebackType
from typing import TYPE_CHECKING, Self

from nginxgen.core.errors import EnvironmentUnavailable
from nginxgen.core.facts import CONF_D, NGINX_PREFIX, conf_d_name
from nginxgen.nginx.runner import ConfigFile, EngineRun

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container

if TYPE_CHECKING:
    pass


class DockerEngine:
    """`nginx -t` in a throwaway container of `image`, configs in its `/etc/nginx/conf.d/`.

    Each `run_test` starts and removes its own container; inside `with DockerEngine(...)` the
    runs share one container (the files of a run are removed after it).
    """

    def __init__(self, image: str, *, pull: bool = True) -> None:
        self.image = image
        self.pull = pull
        self._container: Container | None = None

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
        container.put_archive("/", tar_of(placed))
        try:
            exit_code, output = run_in(container, ["nginx", "-v", "-t"])
        finally:
            container.exec_run(["rm", "-f", "--", *placed])
        return EngineRun(exit_code, output, config_paths)

    def _start_container(self) -> Container:
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


def run_in(container: Container, command: Sequence[str]) -> tuple[int, str]:
    """`command` run inside `container`: its exit code and its output (stdout and stderr)."""
    result = container.exec_run(list(command))
    output = result.output if isinstance(result.output, bytes) else b"".join(result.output)
    return (result.exit_code if result.exit_code is not None else -1), output.decode(
        "utf-8", "replace"
    )


def docker_client() -> DockerClient:
    """A Docker client that answered a ping, or `EnvironmentUnavailable` saying what to do.

    For `DOCKER_HOST=ssh://…` the SDK's paramiko transport: one SSH connection for the whole
    command, a channel per HTTP connection (`use_ssh_client=True` would start an `ssh` process
    for every request instead). Its login failures are paramiko's, not the SDK's.
    """
    import docker
    from docker.errors import DockerException

    host = os.environ.get("DOCKER_HOST", "")
    failures: tuple[type[Exception], ...] = (DockerException,)
    if host.startswith("ssh://"):
        import paramiko

        failures = (DockerException, paramiko.SSHException, OSError)
    try:
        client = docker.from_env(use_ssh_client=False)
        client.ping()
    except failures as error:
        raise EnvironmentUnavailable(
            f"Docker is not reachable: {error or type(error).__name__}",
            details=unreachable_advice(host),
        ) from error
    return client


def unreachable_advice(host: str) -> str:
    if host.startswith("ssh://"):
        url = urllib.parse.urlsplit(host)
        login = f"{url.username}@{url.hostname}" if url.username else str(url.hostname)
        port = f"-p {url.port} " if url.port else ""
        return (
            f"DOCKER_HOST is {host}: nginxgen logs in over SSH with a key (~/.ssh/config, "
            "the host in ~/.ssh/known_hosts, no password prompt) and runs `docker system "
            f"dial-stdio` there. Check that `ssh {port}{login} docker info` works as this user."
        )
    return (
        "Start the Docker daemon (or point DOCKER_HOST at one), or test with the "
        "host's nginx instead: `nginxgen check --engine local`."
    )


def ensure_image(client: DockerClient, image: str, *, pull: bool) -> None:
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
        f"The nginx image {image!r} is not available locally and {reason}.",
        details=f"Pull or build it (`docker pull {image}`), or choose another image with "
        "--image, the NGINXGEN_NGINX_IMAGE environment variable or `check.image` in "
        "nginxgen.yaml.",
    )


def _config_bytes(configs: Iterable[ConfigFile]) -> Iterable[tuple[str, bytes]]:
    for config in configs:
        yield f"{CONF_D}/{conf_d_name(config.name)}", config.text.encode("utf-8")


def tar_of(files: Mapping[str, bytes]) -> bytes:
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
