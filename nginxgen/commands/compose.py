"""Plan → a docker-compose service for the proxy that runs the output (`nginxgen compose`).

The document carries what the plan implies for the container: a deployed-config directory
mounted as conf.d, the certificate and ACME webroot volumes when an environment serves HTTPS,
the htpasswd files the environments name, a user-defined network, an image of the targeted
nginx version, and, when an environment uses the variable strategy, the sysctl that keeps its
per-request upstream connections from exhausting the container's ports (docs/performance.md).
It is built as data and written by PyYAML; the reasons are comments above it.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from nginxgen.commands.project import open_project, plan_project
from nginxgen.commands.result import Report
from nginxgen.core.errors import UsageError
from nginxgen.core.facts import CERTBOT_CONF, CERTBOT_WEBROOT, CONF_D, LETSENCRYPT
from nginxgen.generation.metrics_outputs import METRICS_HEADER, metrics_services, mtail_program
from nginxgen.generation.models import Settings
from nginxgen.generation.plan_types import EnvironmentPlan, Plan

DEPLOYED = "./deployed"
HTPASSWD = "./htpasswd"
PROXY_NETWORK = "proxy"
PROXY_NETWORK_NAME = "nginxgen-proxy"

_HEADER = f"""\
# The nginx proxy for nginxgen's output; printed by `nginxgen compose`. Merge it into your
# compose file, start it, then put the output in with `nginxgen deploy`.
#
# {DEPLOYED} is mounted as a directory, never the single file: `render` and `deploy` replace the
# file by rename, and a single-file bind mount keeps the old file's inode, so a reload would
# silently reload the old config. Only `nginxgen deploy` writes there (not `render`, which writes
# the output to out/): it tests the new file in this container first, swaps it in by rename,
# reloads, verifies and keeps versions in {DEPLOYED}/.nginxgen/. So a restart only ever loads a
# config that passed `nginx -t` here, with the real certificates. Read-write for deploy.
#
# Networks: nginx finds services through Docker's DNS (127.0.0.11), which answers only on
# user-defined networks, never on Docker's default bridge. `default` is this project's own network;
# `{PROXY_NETWORK}` ({PROXY_NETWORK_NAME}) is for services of other compose projects: add it to
# those services' `networks:` and declare it there as `{PROXY_NETWORK_NAME}` with `external: true`.
#
# The image is the nginx of `nginx_version` in nginxgen.yaml (or `check.image`), so what runs is
# what the output was generated and checked for.
"""

_TW_REUSE_WHY = """\
#
# sysctls: some environments use the variable strategy: nginx opens a new connection to the
# service for every request, and each one it closes waits 60 s in TIME_WAIT. Under sustained
# load they fill the container's ephemeral ports and throughput collapses (docs/performance.md).
# net.ipv4.tcp_tw_reuse lets new outgoing connections reuse those ports. nginx >= 1.27.3
# (nginx_version) with strategy auto pools connections instead and needs no sysctl.
"""


def uses_variable(plan: Plan) -> bool:
    return any(environment.strategy == "variable" for environment in plan.environments)


def htpasswd_files(environment: EnvironmentPlan) -> list[str]:
    """The htpasswd files an environment's server or locations name."""
    accesses = [environment.access, *(location.access for location in environment.locations)]
    return sorted({access.htpasswd for access in accesses if access and access.htpasswd})


def proxy_image(settings: Settings) -> str:
    return settings.check.image or f"nginx:{settings.nginx_version}"


def numbered_sources(base: str, targets: list[str]) -> list[tuple[str, str]]:
    """The first target gets `base`, the others `base` + their own path, so none collide."""
    return [
        (base if index == 0 else f"{base}{target}", target) for index, target in enumerate(targets)
    ]


def compose_document(plan: Plan, settings: Settings, service: str = "nginx") -> dict[str, Any]:
    https = any(environment.tls for environment in plan.environments)
    webroots = sorted({env.acme_webroot for env in plan.environments if env.acme_webroot})
    htpasswd_directories = sorted(
        {
            str(PurePosixPath(path).parent)
            for environment in plan.environments
            for path in htpasswd_files(environment)
        }
    )
    volumes = [f"{DEPLOYED}:{CONF_D}"]
    if https:
        volumes.append(f"{CERTBOT_CONF}:{LETSENCRYPT}:ro")
    # certbot writes challenges to the first webroot; others are the user's own directories.
    volumes += [
        f"{source}:{target}:ro" for source, target in numbered_sources(CERTBOT_WEBROOT, webroots)
    ]
    volumes += [
        f"{source}:{target}:ro"
        for source, target in numbered_sources(HTPASSWD, htpasswd_directories)
    ]
    proxy: dict[str, Any] = {
        "image": proxy_image(settings),
        "ports": _ports(plan, https),
        "volumes": volumes,
        "networks": ["default", PROXY_NETWORK],
    }
    if uses_variable(plan):
        proxy["sysctls"] = {"net.ipv4.tcp_tw_reuse": 1}
    proxy["restart"] = "unless-stopped"
    document: dict[str, Any] = {
        "services": {service: proxy},
        "networks": {PROXY_NETWORK: {"name": PROXY_NETWORK_NAME}},
    }
    # metrics: (docs/metrics.md): the exporter and mtail beside the proxy, sharing its log volume.
    metrics = metrics_services(plan, service, "default")
    if metrics is not None:
        proxy["volumes"] = [*volumes, *metrics.proxy_volumes]
        document["services"].update(metrics.services)
        document["volumes"] = metrics.volumes
    return document


def _ports(plan: Plan, https: bool) -> list[str]:
    ports = ["80:80", "443:443"] if https else ["80:80"]
    if any(environment.quic is not None for environment in plan.environments):
        ports.append("443:443/udp")  # HTTP/3 (QUIC)
    return ports


def compose_service(plan: Plan, settings: Settings, service: str = "nginx") -> str:
    """The compose YAML for the proxy service: deterministic, same plan, same text."""
    header = _HEADER + (_TW_REUSE_WHY if uses_variable(plan) else "")
    header += METRICS_HEADER if plan.metrics else ""
    document = compose_document(plan, settings, service)
    return header + yaml.safe_dump(document, sort_keys=False, default_flow_style=False)


def compose(environments: Path | None, settings_file: Path | None, mtail: bool = False) -> Report:
    project = open_project(settings_file, environments)
    plan = plan_project(project)
    if mtail:  # `--mtail-program`: the program of the mtail service instead (docs/metrics.md)
        if plan.metrics is None:
            raise UsageError("--mtail-program needs `metrics:` in nginxgen.yaml")
        return Report(stdout=mtail_program(plan))
    return Report(stdout=compose_service(plan, project.settings))
