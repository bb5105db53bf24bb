"""What `metrics:` adds beside the nginx config: the mtail program that counts the request log by
environment (rendered from the plan), and the compose services that export the metrics — the
official nginx exporter scraping stub_status, and mtail reading the log through a shared volume.
Both are plain values and text; nothing here runs or writes anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nginxgen.generation.plan_metrics import METRICS_LOG_DIRECTORY, METRICS_PATH
from nginxgen.generation.plan_types import Plan
from nginxgen.generation.render import template_environment

# Prometheus's default latency buckets (seconds), as its client libraries use them.
LATENCY_BUCKETS = ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10")
EXPORTER_IMAGE = "nginx/nginx-prometheus-exporter:1.4"
EXPORTER_PORT = 9113
MTAIL_IMAGE = "ghcr.io/google/mtail:3.0.8"
MTAIL_PORT = 3903
MTAIL_PROGRAM_DIRECTORY = "./metrics"
MTAIL_PROGRAM_NAME = "nginxgen.mtail"
# nginx's log directory as a named volume: on first use Docker fills it from the image, so the
# links of access.log and error.log to the container's stdout and stderr stay as they are.
LOG_VOLUME = "nginxgen-logs"

METRICS_HEADER = f"""\
#
# Metrics (`metrics:` in nginxgen.yaml, docs/metrics.md): nginx-exporter reads stub_status from
# the proxy and serves Prometheus metrics on :{EXPORTER_PORT}; mtail counts the request log (which
# nginx writes into the {LOG_VOLUME} volume) by environment and serves them on :{MTAIL_PORT}.
# Neither port is published: scrape them from a Prometheus on the same network. mtail's program
# is `nginxgen compose --mtail-program > {MTAIL_PROGRAM_DIRECTORY}/{MTAIL_PROGRAM_NAME}`
# (regenerate it, then restart mtail, when the environments change).
"""


def mtail_program(plan: Plan) -> str:
    """The mtail program for the plan's environments (deterministic: same plan, same text)."""
    if plan.metrics is None:
        raise ValueError("the plan has no metrics")
    return (
        template_environment()
        .get_template("requests.mtail.j2")
        .render(
            plan=plan,
            environments=[environment.name for environment in plan.environments],
            buckets=LATENCY_BUCKETS,
        )
    )


@dataclass(frozen=True)
class MetricsServices:
    """The compose services of metrics, and what the proxy's service needs for them."""

    services: dict[str, Any]
    volumes: dict[str, Any]
    proxy_volumes: tuple[str, ...]


def metrics_services(plan: Plan, proxy_service: str, network: str) -> MetricsServices | None:
    """The exporter and mtail on the proxy's `network`, not published; None without metrics."""
    if plan.metrics is None:
        return None
    scrape_uri = f"http://{proxy_service}:{plan.metrics.port}{METRICS_PATH}"
    exporter = {
        "image": EXPORTER_IMAGE,
        "command": [f"--nginx.scrape-uri={scrape_uri}"],
        "networks": [network],
        "depends_on": [proxy_service],
        "restart": "unless-stopped",
    }
    mtail = {
        "image": MTAIL_IMAGE,
        "command": [
            "--progs",
            "/etc/mtail",
            "--logs",
            plan.metrics.log_path,
            "--logtostderr",
        ],
        "volumes": [
            f"{MTAIL_PROGRAM_DIRECTORY}:/etc/mtail:ro",
            f"{LOG_VOLUME}:{METRICS_LOG_DIRECTORY}:ro",
        ],
        "networks": [network],
        "restart": "unless-stopped",
    }
    return MetricsServices(
        services={f"{proxy_service}-exporter": exporter, f"{proxy_service}-mtail": mtail},
        volumes={LOG_VOLUME: {}},
        proxy_volumes=(f"{LOG_VOLUME}:{METRICS_LOG_DIRECTORY}",),
    )
