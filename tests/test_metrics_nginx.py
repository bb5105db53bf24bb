"""Metrics for real: the compose file `nginxgen compose` prints with `metrics:` on, run by
docker-compose (the exporter and mtail from Debian's packages under the official images'
entrypoints), the output deployed into it, and a real Prometheus scraping both; after real
requests the figures are read back through Prometheus's HTTP API. stub_status answers a
container on the proxy's network and nothing through the published port.
"""

from __future__ import annotations

import copy
import http.client
import json
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from nginx_fixtures import BACKEND_IMAGE, http_get, require_image, wait_for
from test_compose import docker_compose
from typer.testing import CliRunner

from nginxgen.cli import app
from nginxgen.generation.metrics_outputs import EXPORTER_PORT, MTAIL_PORT

pytestmark = pytest.mark.nginx

NGINX_IMAGE = "nginxgen-test/nginx:trixie"  # nginx 1.26, as nginx_version says
METRICS_IMAGE = "nginxgen-test/metrics:bookworm"
# The official images' entrypoints; the test image links Debian's exporter under that name.
ENTRYPOINTS = {"exporter": ["/usr/bin/nginx-prometheus-exporter"], "mtail": ["/usr/bin/mtail"]}
PROMETHEUS_PORT = 9090
SHOP = """\
domains: [shop.example.test]
tls: false
log: {format: json}
services:
  app: {host: app, port: 3000}
routes:
  - {path: /, service: app}
"""
BLOG = """\
domains: [blog.example.test]
tls: false
services:
  app: {host: app, port: 3000}
routes:
  - {path: /api/, service: app}
"""
SETTINGS = 'nginx_version: "1.26"\nmetrics: {port: 8080}\n'


def prometheus_config(exporter: str, mtail: str) -> bytes:
    jobs = {"nginx": f"{exporter}:{EXPORTER_PORT}", "mtail": f"{mtail}:{MTAIL_PORT}"}
    document = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [target]}]}
            for job, target in jobs.items()
        ],
    }
    return yaml.safe_dump(document).encode()


@dataclass
class MetricsStack:
    network: str
    compose: dict[str, Any]
    http_port: int
    prometheus_port: int

    def query(self, expression: str) -> dict[str, float]:
        """An instant query's samples, keyed by their labels (name=value,...)."""
        url = f"http://127.0.0.1:{self.prometheus_port}/api/v1/query?" + urllib.parse.urlencode(
            {"query": expression}
        )
        with urllib.request.urlopen(url, timeout=5) as response:
            document = json.load(response)
        assert document["status"] == "success", document
        return {
            ",".join(f"{k}={v}" for k, v in sorted(sample["metric"].items())): float(
                sample["value"][1]
            )
            for sample in document["data"]["result"]
        }

    def value(self, expression: str) -> float:
        samples = self.query(expression)
        return sum(samples.values()) if samples else 0.0


def runnable(printed: dict[str, Any], name: str, client: Any) -> dict[str, Any]:
    """The printed compose file with only what this machine needs changed: local images (no
    registry; Debian's packages under the official entrypoints), loopback ports picked by
    Docker, a proxy network of its own, the backend as `app`, and a Prometheus scraping the
    exporter and mtail by their service names."""
    document = copy.deepcopy(printed)
    services = document["services"]
    services["nginx"]["image"] = require_image(client, NGINX_IMAGE)
    services["nginx"]["ports"] = ["127.0.0.1::80"]
    for service, entrypoint in (("nginx-exporter", "exporter"), ("nginx-mtail", "mtail")):
        services[service]["image"] = require_image(client, METRICS_IMAGE)
        services[service]["entrypoint"] = ENTRYPOINTS[entrypoint]
    document["networks"]["proxy"]["name"] = name
    services["app"] = {"image": require_image(client, BACKEND_IMAGE), "hostname": "app"}
    services["prometheus"] = {
        "image": METRICS_IMAGE,
        "entrypoint": ["/usr/bin/prometheus"],
        "command": [
            "--config.file=/etc/nginxgen-test/prometheus.yml",
            "--storage.tsdb.path=/tmp/prometheus",
            f"--web.listen-address=:{PROMETHEUS_PORT}",
        ],
        "volumes": ["./prometheus.yml:/etc/nginxgen-test/prometheus.yml:ro"],
        "ports": [f"127.0.0.1::{PROMETHEUS_PORT}"],
    }
    return document


@pytest.fixture
def metrics_stack(
    docker_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MetricsStack]:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "shop.yaml").write_text(SHOP, encoding="utf-8")
    (tmp_path / "environments" / "blog.yaml").write_text(BLOG, encoding="utf-8")
    (tmp_path / "nginxgen.yaml").write_text(SETTINGS, encoding="utf-8")
    printed = CliRunner().invoke(app, ["compose"])
    assert printed.exit_code == 0, printed.output
    program = CliRunner().invoke(app, ["compose", "--mtail-program"])
    assert program.exit_code == 0, program.output
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "nginxgen.mtail").write_text(program.stdout, encoding="utf-8")
    (tmp_path / "prometheus.yml").write_bytes(prometheus_config("nginx-exporter", "nginx-mtail"))
    name = f"nginxgen-test-{uuid.uuid4().hex[:8]}"
    compose = yaml.safe_load(printed.stdout)
    document = runnable(compose, name, docker_client)
    (tmp_path / "docker-compose.yml").write_text(yaml.safe_dump(document), encoding="utf-8")
    try:
        docker_compose(tmp_path, name, "up", "-d")
        container = docker_compose(tmp_path, name, "ps", "-q", "nginx").strip()
        # The output goes in as it always does: tested in the proxy, swapped in, reloaded.
        deployed = CliRunner().invoke(app, ["deploy", "--container", container])
        assert deployed.exit_code == 0, deployed.output

        def port(service: str, number: int) -> int:
            address = docker_compose(tmp_path, name, "port", service, str(number)).strip()
            return int(address.rsplit(":", 1)[1])

        yield MetricsStack(
            f"{name}_default", compose, port("nginx", 80), port("prometheus", PROMETHEUS_PORT)
        )
    finally:
        docker_compose(tmp_path, name, "down", "--volumes", "--timeout", "2")


def _get(stack: MetricsStack, host: str, path: str, times: int, status: int) -> None:
    for _ in range(times):
        response = http_get(stack.http_port, host, path)
        assert response.status == status, (host, path, response)


def test_prometheus_reads_stub_status_and_the_requests_by_environment(
    metrics_stack: MetricsStack,
) -> None:
    stack = metrics_stack
    wait_for(
        "Prometheus scraping the exporter and mtail",
        lambda: stack.query("up"),
        lambda samples: len(samples) == 2 and all(value == 1 for value in samples.values()),
        timeout=60,
    )

    # mtail reads from the end of the log once it has found it: warm up until it counts.
    def warm_up() -> float:
        _get(stack, "blog.example.test", "/api/warm", 1, 200)
        return stack.value('nginxgen_requests_total{environment="blog"}')

    wait_for("mtail counting the request log", warm_up, lambda value: value > 0, timeout=60)
    counted = 'sum(nginxgen_requests_total{{environment="{}",status_class="{}"}})'
    latency = 'sum(nginxgen_upstream_response_seconds_count{{environment="{}"}})'
    figures = {
        "shop 2xx": counted.format("shop", "2xx"),
        "blog 2xx": counted.format("blog", "2xx"),
        "blog 4xx": counted.format("blog", "4xx"),
        "shop upstream": latency.format("shop"),
        "blog upstream": latency.format("blog"),
        "stub_status requests": "sum(nginx_http_requests_total)",
    }

    def read() -> dict[str, float]:
        return {name: stack.value(expression) for name, expression in figures.items()}

    expected = {
        "shop 2xx": 5,
        "blog 2xx": 2,
        "blog 4xx": 3,
        "shop upstream": 5,
        "blog upstream": 2,  # nginx answered the 404s itself: no upstream time
    }
    # The warm-up's last lines may still be on their way (nginx flushes the log each second,
    # Prometheus scrapes each second): the baseline is figures that stayed put for 3 s.
    readings: list[dict[str, float]] = []

    def settled() -> bool:
        readings.append(read())
        time.sleep(3)
        readings.append(read())
        # stub_status counts the exporter's own scrapes: it never stands still.
        return all(readings[-1][name] == readings[-2][name] for name in figures if name in expected)

    wait_for("a stable baseline", settled, bool, timeout=60)
    before = readings[-1]
    _get(stack, "shop.example.test", "/", 5, 200)
    _get(stack, "blog.example.test", "/api/x", 2, 200)
    _get(stack, "blog.example.test", "/nothing-routes-here", 3, 404)

    def deltas() -> dict[str, float]:
        now = read()
        return {name: now[name] - before[name] for name in now}

    seen = wait_for(
        "the requests in Prometheus",
        deltas,
        lambda delta: (
            all(delta[name] == value for name, value in expected.items())
            and delta["stub_status requests"] >= 10
        ),
        timeout=60,
    )
    assert stack.value("nginx_up") == 1, seen
    assert stack.value("sum(nginx_connections_accepted)") >= 10
    # A latency histogram per environment, in Prometheus's buckets.
    buckets = stack.query('nginxgen_upstream_response_seconds_bucket{environment="shop"}')
    assert any("le=+Inf" in labels for labels in buckets), buckets


def test_stub_status_answers_the_proxy_network_and_nothing_published(
    metrics_stack: MetricsStack, docker_client: Any
) -> None:
    stack = metrics_stack
    # From a container on the proxy's network: nginx's own figures.
    script = (
        'my $s = IO::Socket::INET->new("nginx:8080") or die "connect: $!";'
        'print $s "GET /stub_status HTTP/1.0\\r\\nHost: nginx\\r\\n\\r\\n"; print <$s>;'
    )
    answer = docker_client.containers.run(
        METRICS_IMAGE,
        ["-MIO::Socket::INET", "-e", script],
        entrypoint=["perl"],
        network=stack.network,
        remove=True,
    ).decode()
    assert answer.startswith("HTTP/1.1 200"), answer
    assert "Active connections:" in answer and "server accepts handled requests" in answer
    # The compose file publishes 80/443 only, never the metrics port.
    published = stack.compose["services"]["nginx"]["ports"]
    assert all("8080" not in port for port in published), published
    for service in ("nginx-exporter", "nginx-mtail"):
        assert "ports" not in stack.compose["services"][service]
    # Through the published port, /stub_status is the environment's own route (the service)...
    response = http_get(stack.http_port, "shop.example.test", "/stub_status")
    assert response.body.startswith("backend=app uri=/stub_status"), response
    assert "Active connections" not in response.body
    # ...or, for a name no environment serves, no answer at all (444).
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        http_get(stack.http_port, "nginx", "/stub_status")
