"""Containers for the benchmarks: one `nginxgen.nginx.sandbox.Sandbox` (a private network and
what runs on it), removed in `close`.

Every published port is bound to 127.0.0.1, and load goes only there. The one module of the
benchmarks that starts containers: the others ask it.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import docker
from docker import DockerClient
from docker.errors import DockerException, ImageNotFound

from nginxgen.core.facts import CONF_D
from nginxgen.core.versions import reported_version
from nginxgen.nginx.loopback import Answer, request
from nginxgen.nginx.sandbox import Container, Sandbox

LOOPBACK = "127.0.0.1"
BACKEND_IMAGE = "nginxgen-test/backend:latest"
BACKEND_PORT = 3000


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
    with Sandbox("bench-version", network=False, client=client()) as sandbox:
        container = sandbox.start(image, "nginx-v", entrypoint=["sleep"], command=["60"])
        text = container.exec(["nginx", "-v"]).output
    reported = reported_version(text)
    if reported is None:
        raise BenchmarkError(f"{image}: cannot read the nginx version from {text!r}")
    return reported[1]


def get(port: int, host: str, path: str = "/", timeout: float = 3.0) -> tuple[int, str]:
    answer = request(port, host, path, timeout=timeout)
    return answer.status, answer.body


def _proxies(answer: Answer) -> bool:
    return answer.status == 200 and answer.body.startswith("backend=")


@dataclass
class Stack:
    """Containers on one user-defined network, so Docker's DNS (127.0.0.11) serves them."""

    work: Path
    prefix: str = field(default_factory=lambda: f"bench-{os.getpid()}")
    # The containers' names, in the order they were started.
    containers: list[str] = field(default_factory=list)
    network: str | None = None
    # A subnet of its own, so that `start_backend` can take a given address.
    fixed_addresses: bool = False
    _sandbox: Sandbox | None = None
    _started: dict[str, Container] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        sandbox = Sandbox(self.prefix, fixed_addresses=self.fixed_addresses, client=client())
        self._sandbox = sandbox.__enter__()
        self.network = self._sandbox.network

    def _open(self) -> Sandbox:
        if self._sandbox is None:
            raise BenchmarkError("the stack is closed")
        return self._sandbox

    def start_backend(
        self,
        alias: str | None,
        hostname: str | None = None,
        *,
        address: str | None = None,
        command: list[str] | None = None,
    ) -> str:
        """A backend answering `backend=<hostname>` on port 3000, reachable as `alias` (at
        `address`, with `fixed_addresses`; running `command` instead, if given); its name."""
        hostname = hostname or alias
        if hostname is None:
            raise BenchmarkError("a backend needs an alias or a host name")
        container = self._open().start(
            BACKEND_IMAGE,
            f"backend-{hostname}",
            aliases=[alias] if alias else [],
            hostname=hostname,
            address=address,
            command=command,
        )
        return self._register(container)

    def start(
        self,
        name: str,
        image: str,
        *,
        entrypoint: list[str] | None = None,
        command: list[str] | None = None,
        aliases: list[str] | None = None,
        environment: dict[str, str] | None = None,
        files: dict[str, bytes] | None = None,
        volumes: dict[str, str] | None = None,
        read_only_volumes: dict[str, str] | None = None,
        publish: tuple[int, ...] = (),
    ) -> Container:
        """Any container on the stack's network (a peer such as Pebble): `files` at their
        absolute paths, `volumes` (host → container path) read-write, `read_only_volumes`
        read-only, `publish` on 127.0.0.1."""
        container = self._open().start(
            image,
            name,
            entrypoint=entrypoint,
            command=command,
            aliases=aliases or [],
            environment=environment,
            files=files,
            volumes=volumes,
            read_only_volumes=read_only_volumes,
            publish=publish,
        )
        self._register(container)
        return container

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
        placed = {f"{CONF_D}/{name}": text.encode("utf-8") for name, text in files.items()}
        container = self._open().start_nginx(
            image, placed, name=name, publish=(80,), sysctls=sysctls, volumes=volumes
        )
        self._register(container)
        return container.port(80)

    def wait_until_serving(
        self, port: int, host: str, path: str = "/", timeout: float = 30.0
    ) -> None:
        """Until 127.0.0.1:`port` proxies `path` as `host` to a backend."""
        deadline = time.monotonic() + timeout
        last: object = "nothing yet"
        while time.monotonic() < deadline:
            try:
                answer = request(port, host, path, timeout=3.0)
                if _proxies(answer):
                    return
                last = (answer.status, answer.body[:80])
            except (OSError, http.client.HTTPException) as error:
                last = error
            time.sleep(0.2)
        raise BenchmarkError(f"127.0.0.1:{port} did not proxy within {timeout:g} s: {last!r}")

    def time_wait(self, container: str) -> int:
        """Sockets in TIME_WAIT in the container's network namespace."""
        result = self._started[container].exec(["cat", "/proc/net/tcp", "/proc/net/tcp6"])
        return sum(1 for line in result.output.splitlines()[1:] if line.split()[3:4] == ["06"])

    def logs(self, container: str) -> str:
        return self._started[container].logs(tail=20)

    def address(self, container: str) -> str:
        """The container's address on the stack's network."""
        return self._started[container].address()

    def remove(self, container: str) -> None:
        self._open().remove(self._started.pop(container))
        self.containers.remove(container)

    def close(self) -> None:
        sandbox, self._sandbox = self._sandbox, None
        # Containers a caller started itself by name (peers.py's peers and load clients) do not
        # carry the sandbox's label: removed by name, before the network goes.
        for name in self.containers:
            if name not in self._started:
                with contextlib.suppress(DockerException):
                    client().containers.get(name).remove(force=True)
        self.containers.clear()
        self._started.clear()
        self.network = None
        if sandbox is not None:
            sandbox.close()

    def _register(self, container: Container) -> str:
        self.containers.append(container.name)
        self._started[container.name] = container
        return container.name
