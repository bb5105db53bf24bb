"""Real nginx in Docker for the `nginx`-marked tests: images, containers, requests, waiting.

The tests run in CI; nothing here skips. Without Docker or a test image they fail and say how to
get them (`scripts/test-infra`). Every container and network a test creates is removed when the
test ends, failed or not. Requests go only to ports published on 127.0.0.1.
"""

from __future__ import annotations

import http.client
import os
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import docker
import pytest
from docker.errors import DockerException, ImageNotFound
from testcontainers.core.config import testcontainers_config

from nginxgen.nginx.loopback import Answer, Refused, request
from nginxgen.nginx.sandbox import Container, Sandbox

# Ryuk is a reaper container pulled from a registry: none is reachable here, and the fixtures
# below (and the sandbox) remove what they create themselves.
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
# An answer of `http_get`: status, headers (lower-case names), body, the certificate served.
Response = Answer

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
        with Sandbox("tests-version", network=False, client=client) as sandbox:
            container = sandbox.start(image, "nginx-v", entrypoint=["sleep"], command=["60"])
            output = container.exec(["nginx", "-v"]).output
        version = output.strip().rsplit("/", 1)[-1]
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


def http_get(port: int, host: str, path: str = "/", *, tls: bool = False) -> Response:
    """GET `path` from 127.0.0.1:`port` as `host` (Host header and, with `tls`, SNI).

    Certificates are not verified (they are placeholders); the one served is returned.
    """
    return request(port, host, path, tls=tls, timeout=REQUEST_TIMEOUT_SECONDS)


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
        except (OSError, http.client.HTTPException, Refused) as error:
            last = error
        if time.monotonic() >= deadline:
            pytest.fail(f"{what}: not within {timeout:g} s; last: {last!r}", pytrace=False)
        time.sleep(0.2)


class DockerStack:
    """Containers of one `Sandbox`: a user-defined network (so Docker's DNS at 127.0.0.11
    serves them), every port published on 127.0.0.1 only; all removed by `close`."""

    def __init__(self, client: Any) -> None:
        self.sandbox = Sandbox("tests", client=client).__enter__()
        self.client = client
        # The name of the stack's network.
        self.network = self.sandbox.network
        self.containers: dict[str, Container] = {}

    def start_nginx(
        self,
        image: str,
        files: Mapping[str, bytes],
        name: str = "nginx",
        volumes: Mapping[str, str] | None = None,
        udp_ports: tuple[int, ...] = (),
        sysctls: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> Container:
        """nginx from `image` with `files` at their absolute paths, 80 and 443 (and `udp_ports`)
        on 127.0.0.1; `volumes` bind-mounts host paths (read-write) at container paths."""
        self.containers[name] = self.sandbox.start_nginx(
            require_image(self.client, image),
            files,
            name=name,
            publish_udp=udp_ports,
            volumes=volumes,
            sysctls=sysctls,
            labels=labels,
        )
        return self.containers[name]

    def start_service(
        self, host: str, alias: str | None = None, files: Mapping[str, bytes] | None = None
    ) -> Container:
        """The backend, reachable as `host` on the network, answering `backend=<host>`; with
        `files` at their absolute paths.

        With `alias`, it is reachable as `alias` instead, beside other containers under the same
        alias: replicas, as `docker compose --scale` makes them.
        """
        self.containers[host] = self.sandbox.start(
            require_image(self.client, BACKEND_IMAGE),
            host,
            files=files,
            aliases=[alias or host],
            hostname=host,
        )
        return self.containers[host]

    def remove(self, name: str) -> None:
        self.sandbox.remove(self.containers.pop(name))

    def wrapped(self, name: str) -> Any:
        """The Docker SDK's container, freshly read."""
        wrapped = self.containers[name].docker
        wrapped.reload()
        return wrapped

    def port(self, name: str, container_port: int, protocol: str = "tcp") -> int:
        """The host port published for `container_port`, which is bound to 127.0.0.1 only."""
        return self.containers[name].port(container_port, protocol)

    def status(self, name: str) -> str:
        return self.containers[name].status()

    def logs(self, name: str) -> str:
        return self.containers[name].logs()

    def close(self) -> None:
        self.containers.clear()
        self.sandbox.close()


@pytest.fixture
def docker_stack(docker_client: Any) -> Iterator[DockerStack]:
    """A fresh user-defined network and the containers a test starts on it; all removed after."""
    stack = DockerStack(docker_client)
    try:
        yield stack
    finally:
        stack.close()
