"""Real nginx in Docker for the `nginx`-marked tests: images, containers, requests, waiting.

The tests run in CI; nothing here skips. Without Docker or a test image they fail and say how to
get them (`scripts/test-infra`). Every container and network a test creates is removed when the
test ends, failed or not. Requests go only to ports published on 127.0.0.1.
"""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import docker
import pytest
from docker.errors import DockerException, ImageNotFound, NotFound
from testcontainers.core.config import testcontainers_config
from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network

# Ryuk is a reaper container pulled from a registry: none is reachable here, and the fixtures
# below remove what they create themselves.
testcontainers_config.ryuk_disabled = True

REPOSITORY = Path(__file__).resolve().parent.parent
DEFAULT_TEST_IMAGES = (
    "nginxgen-test/nginx:bookworm",
    "nginxgen-test/nginx:trixie",
    "nginxgen-test/nginx:sid",
)
# sid's nginx under the official image's stock nginx.conf and conf.d/default.conf.
OFFICIAL_LAYOUT_IMAGE = "nginxgen-test/nginx:official-layout"
BACKEND_IMAGE = "nginxgen-test/backend:latest"
BACKEND_PORT = 3000
CONF_D_FILE = "/etc/nginx/conf.d/nginx-ssl.conf"
LOOPBACK = "127.0.0.1"
REQUEST_TIMEOUT_SECONDS = 3.0
HOW_TO_GET_THEM = "run scripts/test-infra (it installs Docker, starts it and builds the images)"

T = TypeVar("T")


def nginx_test_images() -> list[str]:
    """The nginx images the tests run against: $NGINXGEN_TEST_IMAGES, else the local three."""
    configured = os.environ.get("NGINXGEN_TEST_IMAGES", "").split()
    return configured or list(DEFAULT_TEST_IMAGES)


def image_id(image: str) -> str:
    """A short test id for an image: `nginxgen-test/nginx:trixie` → `trixie`."""
    return image.rsplit(":", 1)[-1] if ":" in image else image


_versions: dict[str, str] = {}


def image_nginx_version(client: Any, image: str) -> str:
    """`1.26` for an image whose nginx says `nginx version: nginx/1.26.3`."""
    if image not in _versions:
        output = client.containers.run(
            image, ["nginx", "-v"], remove=True, stdout=True, stderr=True, network_disabled=True
        )
        version = bytes(output).decode().strip().rsplit("/", 1)[-1]
        _versions[image] = ".".join(version.split(".")[:2])
    return _versions[image]


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    try:
        client = docker.from_env()
        client.ping()
    except DockerException as error:
        pytest.fail(f"Docker is not reachable ({error}); {HOW_TO_GET_THEM}", pytrace=False)
    yield client
    client.close()


def require_image(client: Any, image: str) -> str:
    try:
        client.images.get(image)
    except ImageNotFound:
        pytest.fail(f"test image {image} is missing; {HOW_TO_GET_THEM}", pytrace=False)
    return image


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: str
    certificate: bytes | None = None


def http_get(port: int, host: str, path: str = "/", *, tls: bool = False) -> Response:
    """GET `path` from 127.0.0.1:`port` as `host` (Host header and, with `tls`, SNI).

    Certificates are not verified (they are placeholders); the one served is returned.
    """
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=REQUEST_TIMEOUT_SECONDS)
    sock = socket.create_connection((LOOPBACK, port), timeout=REQUEST_TIMEOUT_SECONDS)
    certificate = None
    try:
        if tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            sock = context.wrap_socket(sock, server_hostname=host)
            certificate = sock.getpeercert(binary_form=True)
        connection.sock = sock
        connection.request("GET", path, headers={"Host": host, "Connection": "close"})
        response = connection.getresponse()
        body = response.read().decode("utf-8", "replace")
        headers = {name.lower(): value for name, value in response.getheaders()}
        return Response(response.status, headers, body, certificate)
    finally:
        connection.close()
        sock.close()


def wait_for(what: str, probe: Callable[[], T], done: Callable[[T], bool], timeout: float) -> T:
    """Call `probe` until `done` accepts its result; fail after `timeout` seconds with the last.

    An exception from `probe` (connection refused, say) counts as a result that is not done.
    """
    deadline = time.monotonic() + timeout
    last: object = "nothing yet"
    while True:
        try:
            result = probe()
            if done(result):
                return result
            last = result
        except (OSError, http.client.HTTPException) as error:
            last = error
        if time.monotonic() >= deadline:
            pytest.fail(f"{what}: not within {timeout:g} s; last: {last!r}", pytrace=False)
        time.sleep(0.2)


@dataclass
class DockerStack:
    """Containers on one user-defined network (so Docker's DNS at 127.0.0.11 serves them)."""

    client: Any
    network: Network
    containers: dict[str, DockerContainer] = field(default_factory=dict)

    def start_nginx(
        self,
        image: str,
        files: dict[str, bytes],
        name: str = "nginx",
        volumes: dict[str, str] | None = None,
        udp_ports: tuple[int, ...] = (),
        **options: Any,
    ) -> Any:
        """nginx from `image` with `files` at their absolute paths, 80 and 443 (and `udp_ports`)
        on 127.0.0.1; `volumes` bind-mounts host paths (read-write) at container paths;
        `options` go to Docker's container creation (e.g. `sysctls`)."""
        container = DockerContainer(require_image(self.client, image)).with_network(self.network)
        for host_path, container_path in (volumes or {}).items():
            container.with_volume_mapping(host_path, container_path, "rw")
        if options:
            container.with_kwargs(**options)
        for path, data in files.items():
            container.with_copy_into_container(data, path)
        for port in udp_ports:
            container.ports[f"{port}/udp"] = (LOOPBACK, None)  # type: ignore[assignment]
        return self._start(name, container, ports=(80, 443))

    def start_service(self, host: str, alias: str | None = None) -> Any:
        """The backend, reachable as `host` on the network, answering `backend=<host>`.

        With `alias`, it is reachable as `alias` instead, beside other containers under the same
        alias: replicas, as `docker compose --scale` makes them.
        """
        container = (
            DockerContainer(require_image(self.client, BACKEND_IMAGE))
            .with_network(self.network)
            .with_network_aliases(alias or host)
            .with_kwargs(hostname=host)
        )
        return self._start(host, container, ports=())

    def remove(self, name: str) -> None:
        self.containers.pop(name).stop()

    def wrapped(self, name: str) -> Any:
        wrapped = self.containers[name].get_wrapped_container()
        wrapped.reload()
        return wrapped

    def port(self, name: str, container_port: int, protocol: str = "tcp") -> int:
        """The host port published for `container_port`, which is bound to 127.0.0.1 only."""
        ports = self.wrapped(name).attrs["NetworkSettings"]["Ports"]
        bindings = ports[f"{container_port}/{protocol}"]
        assert bindings, f"{name}: port {container_port} is not published (container stopped?)"
        assert {binding["HostIp"] for binding in bindings} == {LOOPBACK}, bindings
        return int(bindings[0]["HostPort"])

    def status(self, name: str) -> str:
        return str(self.wrapped(name).status)

    def logs(self, name: str) -> str:
        return bytes(self.wrapped(name).logs()).decode("utf-8", "replace")

    def close(self) -> None:
        errors = []
        for name in list(self.containers):
            try:
                self.remove(name)
            except (DockerException, NotFound) as error:
                errors.append(f"{name}: {error}")
        try:
            self.network.remove()
        except DockerException as error:
            errors.append(f"network: {error}")
        assert not errors, "cleanup failed: " + "; ".join(errors)

    def _start(self, name: str, container: DockerContainer, ports: tuple[int, ...]) -> Any:
        for port in ports:
            # Published on loopback only: testcontainers' own port API binds every interface.
            container.ports[f"{port}/tcp"] = (LOOPBACK, None)  # type: ignore[assignment]
        # Registered before starting, so a container that fails to start is removed too.
        self.containers[name] = container
        container.start()
        return container


@pytest.fixture
def docker_stack(docker_client: Any) -> Iterator[DockerStack]:
    """A fresh user-defined network and the containers a test starts on it; all removed after."""
    network = Network().create()
    stack = DockerStack(docker_client, network)
    try:
        yield stack
    finally:
        stack.close()
