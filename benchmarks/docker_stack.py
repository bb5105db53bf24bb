"""Containers for the benchmarks, through the Docker SDK: one network, removed in `close`.

Every published port is bound to 127.0.0.1, and load goes only there.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import os
import tarfile
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import docker
from docker import DockerClient
from docker.errors import DockerException, ImageNotFound
from docker.models.containers import Container
from docker.models.networks import Network

from nginxgen.core.versions import reported_version

LOOPBACK = "127.0.0.1"
BACKEND_IMAGE = "nginxgen-test/backend:latest"
BACKEND_PORT = 3000
CONF_D = "/etc/nginx/conf.d"


class BenchmarkError(Exception):
    """The benchmark cannot run (no Docker, image missing, nginx did not come up)."""


@cache
def client() -> DockerClient:
    try:
        connected = docker.from_env()
        connected.ping()
    except DockerException as error:
        raise BenchmarkError(f"Docker is not reachable ({error}); run scripts/test-infra") from None
    return connected


def require_image(image: str) -> None:
    try:
        client().images.get(image)
    except ImageNotFound:
        raise BenchmarkError(f"image {image} is missing; run scripts/test-infra") from None


def nginx_version(image: str) -> str:
    """`1.30.0` for an image whose `nginx -v` says `nginx version: nginx/1.30.0`."""
    output = client().containers.run(
        image, ["nginx", "-v"], remove=True, stdout=True, stderr=True, network_disabled=True
    )
    text = bytes(output).decode("utf-8", "replace")
    reported = reported_version(text)
    if reported is None:
        raise BenchmarkError(f"{image}: cannot read the nginx version from {text!r}")
    return reported[1]


def _tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def get(port: int, host: str, path: str = "/", timeout: float = 3.0) -> tuple[int, str]:
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


@dataclass
class Stack:
    """Containers on one user-defined network, so Docker's DNS (127.0.0.11) serves them."""

    work: Path
    prefix: str = field(default_factory=lambda: f"nginxgen-bench-{os.getpid()}")
    containers: list[str] = field(default_factory=list)
    network: str | None = None
    _network: Network | None = None

    def __post_init__(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        self._network = client().networks.create(f"{self.prefix}-net", driver="bridge")
        self.network = self._network.name

    def start_backend(self, alias: str, hostname: str | None = None) -> str:
        """A backend answering `backend=<hostname>` on port 3000, reachable as `alias`."""
        hostname = hostname or alias
        return self._run(f"backend-{hostname}", BACKEND_IMAGE, alias=alias, hostname=hostname)

    def start_nginx(
        self,
        name: str,
        image: str,
        files: dict[str, str],
        sysctls: dict[str, str] | None = None,
        volumes: dict[str, str] | None = None,
    ) -> int:
        """nginx with `files` (name → text) in conf.d and `volumes` (host directory → container
        directory) bound; returns the port published for 80."""
        directory = self.work / name
        directory.mkdir(parents=True)
        for file_name, text in files.items():
            (directory / file_name).write_text(text, encoding="utf-8")
        placed = {name: text.encode("utf-8") for name, text in files.items()}
        container_name = self._run(
            name, image, files=placed, sysctls=sysctls, publish=True, volumes=volumes
        )
        container = client().containers.get(container_name)
        binding = container.attrs["NetworkSettings"]["Ports"]["80/tcp"][0]
        if binding["HostIp"] != LOOPBACK:
            raise BenchmarkError(f"{container_name}: port 80 published on {binding['HostIp']}")
        return int(binding["HostPort"])

    def wait_until_serving(
        self, port: int, host: str, path: str = "/", timeout: float = 30.0
    ) -> None:
        deadline = time.monotonic() + timeout
        last: object = "nothing yet"
        while time.monotonic() < deadline:
            try:
                status, body = get(port, host, path)
                if status == 200 and body.startswith("backend="):
                    return
                last = (status, body[:80])
            except (OSError, http.client.HTTPException) as error:
                last = error
            time.sleep(0.2)
        raise BenchmarkError(f"127.0.0.1:{port} did not proxy within {timeout:g} s: {last!r}")

    def time_wait(self, container: str) -> int:
        """Sockets in TIME_WAIT in the container's network namespace."""
        result = (
            client().containers.get(container).exec_run(["cat", "/proc/net/tcp", "/proc/net/tcp6"])
        )
        output = result.output if isinstance(result.output, bytes) else b""
        text = output.decode("utf-8", "replace")
        return sum(1 for line in text.splitlines()[1:] if line.split()[3:4] == ["06"])

    def logs(self, container: str) -> str:
        return bytes(client().containers.get(container).logs(tail=20)).decode("utf-8", "replace")

    def close(self) -> None:
        for name in reversed(self.containers):
            with contextlib.suppress(DockerException):
                client().containers.get(name).remove(force=True)
        self.containers.clear()
        if self._network is not None:
            self._network.remove()
            self._network = None
            self.network = None

    def _run(
        self,
        name: str,
        image: str,
        *,
        alias: str | None = None,
        hostname: str | None = None,
        files: dict[str, bytes] | None = None,
        sysctls: dict[str, str] | None = None,
        publish: bool = False,
        volumes: dict[str, str] | None = None,
    ) -> str:
        assert self._network is not None
        network = str(self._network.name)
        # A host port of None: Docker picks a free one (types-docker does not admit None).
        ports: dict[str, Any] | None = {"80/tcp": (LOOPBACK, None)} if publish else None
        container_name = f"{self.prefix}-{name}"
        # Registered first, so that a container that fails to start is removed too.
        self.containers.append(container_name)
        container: Container = client().containers.create(
            image,
            name=container_name,
            hostname=hostname,
            network=network,
            networking_config={
                network: client().api.create_endpoint_config(aliases=[alias] if alias else None)
            },
            ports=ports,
            sysctls=sysctls,
            volumes={
                source: {"bind": target, "mode": "rw"} for source, target in (volumes or {}).items()
            },
        )
        if files:
            container.put_archive(CONF_D, _tar(files))
        container.start()
        return container_name
