"""Recreated service containers: what a client sees while one is gone (issue 12).

Real nginx 1.30 and backends on a user-defined Docker network. The behaviours, not the
timings, are asserted: a request to an address whose container is gone ends in the environment's
unavailable page (nginx's own connect timeout would be 60 s, far past the client's patience
here); with two replicas the other one answers; an upstream-resolve upstream that Docker's DNS
emptied fills again once the service is back. The resolver's validity is made long where a test
needs nginx to keep using the vanished address, so that the cache cannot expire mid-test and
make it pass for another reason.
"""

from __future__ import annotations

import http.client
from pathlib import Path
from typing import Any

import pytest
from nginx_fixtures import (
    BACKEND_IMAGE,
    CONF_D_FILE,
    LOOPBACK,
    DockerStack,
    image_nginx_version,
    require_image,
    wait_for,
)

from nginxgen.generation.models import Settings
from nginxgen.generation.pipeline import generate

pytestmark = pytest.mark.nginx

IMAGE = "nginxgen-test/nginx:sid"  # nginx 1.30: both strategies
DOMAIN = "churn.example.test"
MESSAGE = "Service temporarily unavailable"
# Far beyond the generated connect timeout (2 s) and far below nginx's default (60 s): a request
# that hangs on the vanished address fails here instead of passing.
CLIENT_TIMEOUT_SECONDS = 30.0
STARTUP_SECONDS = 30.0
# A cached address that must not expire while a test uses it.
LONG_VALIDITY = "120s"
CONNECT_TIMED_OUT = "upstream timed out (110: Connection timed out) while connecting to upstream"
# Requests until one reaches the nginx worker that cached the vanished address (see below).
ATTEMPTS = 30
# Far below LONG_VALIDITY: an answer within this cannot come from the upstream's next resolve.
BACKUP_FINDS_WITHIN_SECONDS = 15.0

ENVIRONMENT = f"""\
domains: [{DOMAIN}]
tls: false
services:
  app: {{host: app, port: 3000}}
routes:
  - {{path: /, service: app}}
"""


def get(stack: DockerStack) -> tuple[int, str]:
    connection = http.client.HTTPConnection(
        LOOPBACK, stack.port("nginx", 80), timeout=CLIENT_TIMEOUT_SECONDS
    )
    try:
        connection.request("GET", "/", headers={"Host": DOMAIN, "Connection": "close"})
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


def start_proxy(
    stack: DockerStack, docker_client: Any, tmp_path: Path, strategy: str, **settings: str
) -> None:
    image = require_image(docker_client, IMAGE)
    (tmp_path / "churn.yaml").write_text(ENVIRONMENT, encoding="utf-8")
    version = image_nginx_version(docker_client, image)
    chosen = Settings.model_validate({"nginx_version": version, "strategy": strategy, **settings})
    text = generate(tmp_path, chosen).text
    stack.start_nginx(image, {CONF_D_FILE: text.encode()})
    wait_for(
        "the proxy serving", lambda: get(stack), lambda answer: answer[0] == 200, STARTUP_SECONDS
    )


def until_nginx_connected_to_the_vanished_address(stack: DockerStack) -> list[tuple[int, str]]:
    """Requests until one of them was sent to the removed container's address.

    Each nginx worker has its own resolver cache: a worker that never resolved `app` asks
    Docker's DNS afresh (and hears it is gone), so it can take more than one request to reach
    the worker that still holds the old address.
    """
    answers = []
    for _ in range(ATTEMPTS):
        answers.append(get(stack))
        if CONNECT_TIMED_OUT in stack.logs("nginx"):
            return answers
    pytest.fail(f"no request went to the vanished address: {answers}", pytrace=False)


@pytest.mark.parametrize("strategy", ["variable", "upstream-resolve"])
def test_a_request_to_a_vanished_address_ends_in_the_unavailable_page(
    docker_stack: DockerStack, docker_client: Any, tmp_path: Path, strategy: str
) -> None:
    docker_stack.start_service("app")
    start_proxy(docker_stack, docker_client, tmp_path, strategy, resolver_valid=LONG_VALIDITY)
    docker_stack.remove("app")

    answers = until_nginx_connected_to_the_vanished_address(docker_stack)

    for status, body in answers:
        assert (status, MESSAGE in body) == (502, True), body


@pytest.mark.parametrize("strategy", ["variable", "upstream-resolve"])
def test_with_two_replicas_the_other_answers_while_one_is_gone(
    docker_stack: DockerStack, docker_client: Any, tmp_path: Path, strategy: str
) -> None:
    docker_stack.start_service("app-1", alias="app")
    docker_stack.start_service("app-2", alias="app")
    start_proxy(docker_stack, docker_client, tmp_path, strategy, resolver_valid=LONG_VALIDITY)
    docker_stack.remove("app-1")

    answers = until_nginx_connected_to_the_vanished_address(docker_stack)
    answers += [get(docker_stack) for _ in range(3)]

    for status, body in answers:
        assert status == 200, body
        assert body.startswith("backend=app-2 "), body


def test_upstream_resolve_serves_again_after_the_service_returns(
    docker_stack: DockerStack, docker_client: Any, tmp_path: Path
) -> None:
    docker_stack.start_service("app")
    start_proxy(docker_stack, docker_client, tmp_path, "upstream-resolve")
    docker_stack.remove("app")
    # Docker's DNS answers NXDOMAIN for the removed name, and nginx empties the upstream.
    wait_for(
        "nginx re-resolving the removed service",
        lambda: docker_stack.logs("nginx"),
        lambda logs: "app could not be resolved (3: Host not found)" in logs,
        STARTUP_SECONDS,
    )
    status, body = get(docker_stack)
    assert (status, MESSAGE in body) == (502, True), body

    docker_stack.start_service("app")

    status, body = wait_for(
        "the proxy serving the returned service",
        lambda: get(docker_stack),
        lambda answer: answer[0] == 200,
        STARTUP_SECONDS,
    )
    assert body.startswith("backend=app "), body


def hold_the_address(stack: DockerStack, name: str) -> None:
    """A container that takes the next free address on the network and listens on nothing: a
    backend started after it cannot get the removed one's address back, as in a recreate."""
    image = require_image(stack.client, BACKEND_IMAGE)
    stack.containers[name] = stack.sandbox.start(image, name, command=["sleep", "600"])


def address(stack: DockerStack, name: str) -> str:
    return stack.containers[name].address()


@pytest.mark.parametrize("replicas", [1, 2])
def test_upstream_resolve_answers_from_a_recreated_service_before_its_next_resolve(
    docker_stack: DockerStack, docker_client: Any, tmp_path: Path, replicas: int
) -> None:
    """Every replica recreated on a new address: the upstream still holds only the old ones (its
    next resolve is `resolver_valid` + 1 s away, here two minutes), so the request is passed to
    the upstream's backup, which resolves the service itself and reaches the new container."""
    names = [f"app-{index + 1}" for index in range(replicas)]
    for name in names:
        docker_stack.start_service(name, alias="app")
    start_proxy(
        docker_stack, docker_client, tmp_path, "upstream-resolve", resolver_valid=LONG_VALIDITY
    )
    old = {address(docker_stack, name) for name in names}
    for name in names:
        docker_stack.remove(name)
        hold_the_address(docker_stack, f"holder-{name}")
    docker_stack.start_service("app-new", alias="app")
    assert address(docker_stack, "app-new") not in old

    # The backup's own cache may still hold an old address for its validity (1 s, counted in
    # whole seconds): a few failures at first are allowed, far less than the upstream's 121 s.
    wait_for(
        "the recreated service answering through the backup",
        lambda: get(docker_stack),
        lambda answer: answer[0] == 200,
        BACKUP_FINDS_WITHIN_SECONDS,
    )
    answers = [get(docker_stack) for _ in range(ATTEMPTS)]

    for status, body in answers:
        assert status == 200, body
        assert body.startswith("backend=app-new "), body
    # They went to an old address first: the upstream had not re-resolved.
    logs = docker_stack.logs("nginx")
    assert any(f'upstream: "http://{gone}:3000/' in logs for gone in old), logs[-2000:]
