"""The production incident, replayed with real containers on a user-defined Docker network.

With `upstream app { server app:3000; }` nginx resolves `app` at startup: a stopped container
kept nginx from (re)starting, taking every site down. The output nginxgen generates from this
repository's `environments/` must instead start with no service at all, answer 502 only on the
routes of a missing service, and reach a service that appears later without a reload.

Docker's DNS (127.0.0.11) exists on user-defined networks only, so each test makes its own
network. The resolver's `valid=` time is shortened through the `resolver_valid` setting to keep
the waits short; every wait is a bounded poll, never a fixed sleep.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import docker
import pytest
from cryptography import x509
from nginx_fixtures import (
    CONF_D_FILE,
    REPOSITORY,
    DockerStack,
    Response,
    http_get,
    image_id,
    image_nginx_version,
    nginx_test_images,
    require_image,
    wait_for,
)

from nginxgen.generation.loader import load_settings
from nginxgen.generation.models import Settings, supports_upstream_resolve
from nginxgen.generation.pipeline import generate
from nginxgen.nginx.placeholder_certs import find_tls_files, placeholder_files

pytestmark = pytest.mark.nginx

RESOLVER_VALID_SECONDS = 2
# How long a change in Docker's DNS may take to show: the cached answer's lifetime, plus nginx's
# and Docker's own latency, plus slack for a loaded CI machine.
DNS_CHANGE_SECONDS = RESOLVER_VALID_SECONDS + 13
STARTUP_SECONDS = 20


@dataclass(frozen=True)
class Route:
    environment: str
    domain: str
    path: str
    host: str  # the service's DNS name: its container's network alias


@dataclass(frozen=True)
class Site:
    """The generated output for one nginx version, and what it serves."""

    files: dict[str, bytes]
    routes: tuple[Route, ...]

    @property
    def domains(self) -> list[str]:
        return sorted({route.domain for route in self.routes})

    def routes_of(self, environment: str) -> list[Route]:
        return [route for route in self.routes if route.environment == environment]

    def hosts(self) -> list[str]:
        return sorted({route.host for route in self.routes})


@cache
def generated_site(nginx_version: str, strategy: str) -> Site:
    """The repository's environments rendered by the library, for the nginx under test."""
    settings_file = REPOSITORY / "nginxgen.yaml"
    settings = load_settings(settings_file) if settings_file.is_file() else Settings()
    settings = settings.model_copy(
        update={
            "resolver_valid": f"{RESOLVER_VALID_SECONDS}s",
            "nginx_version": nginx_version,
            "strategy": strategy,
        }
    )
    generated = generate(REPOSITORY / "environments", settings)
    assert f"valid={RESOLVER_VALID_SECONDS}s" in generated.text
    assert {environment.strategy for environment in generated.plan.environments} == {strategy}
    routes = tuple(
        Route(
            environment.name,
            domain,
            route.path,
            environment.model.services[route.service].addresses[0],
        )
        for environment in generated.environments
        for route in environment.model.routes
        if route.service is not None and route.match == "prefix"
        for domain in environment.model.domains
    )
    assert routes, "the shipped environments route nothing to a service"
    files = {CONF_D_FILE: generated.text.encode("utf-8")}
    files.update(placeholder_files(find_tls_files([generated.text])))
    return Site(files, routes)


@pytest.fixture(params=nginx_test_images(), ids=image_id)
def image(request: pytest.FixtureRequest, docker_client: Any) -> str:
    return require_image(docker_client, request.param)


STRATEGIES = ("variable", "upstream-resolve")


def nginx_tests_selected(config: pytest.Config) -> bool:
    """Whether `-m` keeps tests marked `nginx`: a unit run (`-m "not nginx"`, what
    `scripts/test --unit` passes) starts no container, not even at collection. Read from the
    expression's words (pytest's expression parser is private)."""
    expression = str(config.getoption("markexpr") or "")
    return re.search(r"\bnot\s+nginx\b", expression) is None


def scenario_keys(config: pytest.Config) -> list[tuple[str, str]]:
    """Every (image, strategy) pair whose nginx runs that strategy: both strategies are proven on
    every nginx version they support. Docker is asked only when these tests will run."""
    images = nginx_test_images()
    if not nginx_tests_selected(config):
        return [(image, strategy) for image in images for strategy in STRATEGIES]
    try:
        client = docker.from_env()
        versions = {image: image_nginx_version(client, image) for image in images}
    except Exception:  # Docker or an image missing: pair everything; the fixtures then fail.
        return [(image, strategy) for image in images for strategy in STRATEGIES]
    return [
        (image, strategy)
        for image, version in versions.items()
        for strategy in STRATEGIES
        if strategy == "variable" or supports_upstream_resolve(version)
    ]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "scenario" in metafunc.fixturenames:
        keys = scenario_keys(metafunc.config)
        metafunc.parametrize(
            "scenario_key", keys, ids=[f"{image_id(image)}-{strategy}" for image, strategy in keys]
        )


@dataclass(frozen=True)
class Scenario:
    image: str
    site: Site


@pytest.fixture
def scenario(scenario_key: tuple[str, str], docker_client: Any) -> Scenario:
    image, strategy = scenario_key
    image = require_image(docker_client, image)
    return Scenario(image, generated_site(image_nginx_version(docker_client, image), strategy))


@pytest.fixture
def stack(docker_stack: DockerStack) -> Iterator[DockerStack]:
    yield docker_stack


def https(stack: DockerStack, route: Route) -> Response:
    return http_get(stack.port("nginx", 443), route.domain, route.path, tls=True)


def start_nginx_and_wait(stack: DockerStack, image: str, site: Site) -> None:
    stack.start_nginx(image, site.files)
    wait_for(
        "nginx answering on 443",
        lambda: https(stack, site.routes[0]),
        lambda response: True,
        STARTUP_SECONDS,
    )


def assert_backend(response: Response, route: Route) -> None:
    assert response.status == 200, (route, response)
    # The backend names itself and echoes what nginx sent it.
    assert response.body.startswith(f"backend={route.host} uri={route.path} "), response.body
    assert f" host={route.domain} proto=https " in response.body, response.body


def test_nginx_starts_with_no_service_and_every_route_answers_502(
    stack: DockerStack, scenario: Scenario
) -> None:
    image, site = scenario.image, scenario.site
    start_nginx_and_wait(stack, image, site)
    for route in site.routes:
        assert https(stack, route).status == 502, route
    assert stack.status("nginx") == "running", stack.logs("nginx")
    logs = stack.logs("nginx")
    assert "[emerg]" not in logs, logs
    # The 502s come from Docker's DNS not knowing the services, not from anything else.
    for host in site.hosts():
        assert f"{host} could not be resolved" in logs, logs


def test_service_started_later_answers_200_without_a_reload(
    stack: DockerStack, scenario: Scenario
) -> None:
    image, site = scenario.image, scenario.site
    start_nginx_and_wait(stack, image, site)
    for route in site.routes:
        assert https(stack, route).status == 502, route
    started_at = stack.wrapped("nginx").attrs["State"]["StartedAt"]
    for host in site.hosts():
        stack.start_service(host)
    for route in site.routes:
        response = wait_for(
            f"{route} answering 200 after its service started",
            lambda route=route: https(stack, route),  # type: ignore[misc]
            lambda response: response.status == 200,
            DNS_CHANGE_SECONDS,
        )
        assert_backend(response, route)
    assert stack.wrapped("nginx").attrs["State"]["StartedAt"] == started_at
    assert "signal 1 (SIGHUP)" not in stack.logs("nginx")


def test_a_stopped_service_takes_down_only_its_own_routes_and_nginx_restarts(
    stack: DockerStack, scenario: Scenario
) -> None:
    image, site = scenario.image, scenario.site
    production, staging = site.routes_of("production"), site.routes_of("staging")
    assert production and staging
    for host in site.hosts():
        stack.start_service(host)
    start_nginx_and_wait(stack, image, site)
    for route in site.routes:
        wait_for(
            f"{route} answering 200",
            lambda route=route: https(stack, route),  # type: ignore[misc]
            lambda response: response.status == 200,
            DNS_CHANGE_SECONDS,
        )

    stack.remove(production[0].host)
    for route in production:
        wait_for(
            f"{route} answering 502 after its service stopped",
            lambda route=route: https(stack, route),  # type: ignore[misc]
            lambda response: response.status == 502,
            DNS_CHANGE_SECONDS,
        )
    for route in staging:
        assert_backend(https(stack, route), route)

    # The incident itself: nginx (re)starting while a service is down.
    stack.wrapped("nginx").restart(timeout=5)
    wait_for(
        "nginx answering again after its restart",
        lambda: https(stack, staging[0]),
        lambda response: response.status == 200,
        STARTUP_SECONDS,
    )
    assert stack.status("nginx") == "running", stack.logs("nginx")
    for route in staging:
        assert_backend(https(stack, route), route)
    for route in production:
        assert https(stack, route).status == 502, route


STATIC_UPSTREAM_CONFIG = """\
upstream app {
    server app:3000;
}

server {
    listen 80;
    server_name daatan.com;

    location / {
        proxy_pass http://app;
    }
}
"""


def test_a_static_upstream_keeps_nginx_from_starting_without_its_service(
    stack: DockerStack, image: str
) -> None:
    # The contrast that shows the tests above can fail: the config of the incident.
    stack.start_nginx(image, {CONF_D_FILE: STATIC_UPSTREAM_CONFIG.encode()})
    wait_for(
        "nginx with a static upstream exiting",
        lambda: stack.status("nginx"),
        lambda status: status == "exited",
        STARTUP_SECONDS,
    )
    assert stack.wrapped("nginx").attrs["State"]["ExitCode"] != 0
    assert 'host not found in upstream "app:3000"' in stack.logs("nginx")

    # With its service there, the same config starts: the missing service was the cause.
    stack.start_service("app")
    stack.start_nginx(image, {CONF_D_FILE: STATIC_UPSTREAM_CONFIG.encode()}, name="nginx-2")
    response = wait_for(
        "nginx with a static upstream answering once its service exists",
        lambda: http_get(stack.port("nginx-2", 80), "daatan.com", "/"),
        lambda response: response.status == 200,
        STARTUP_SECONDS,
    )
    assert response.body.startswith("backend=app "), response.body


def test_each_domain_has_its_own_certificate_and_http_redirects_to_https(
    stack: DockerStack, scenario: Scenario
) -> None:
    image, site = scenario.image, scenario.site
    start_nginx_and_wait(stack, image, site)
    served: dict[str, bytes] = {}
    for domain in site.domains:
        response = http_get(stack.port("nginx", 443), domain, "/", tls=True)
        assert response.certificate is not None
        certificate = x509.load_der_x509_certificate(response.certificate)
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        assert domain in names.value.get_values_for_type(x509.DNSName), (domain, names)
        served[domain] = response.certificate

        redirect = http_get(stack.port("nginx", 80), domain, "/some/page?x=1")
        assert redirect.status in (301, 308), (domain, redirect)
        assert redirect.headers["location"] == f"https://{domain}/some/page?x=1"
    production = [route.domain for route in site.routes_of("production")]
    staging = [route.domain for route in site.routes_of("staging")]
    assert served[production[0]] != served[staging[0]]
