"""Plan → a Docker Swarm stack file for the proxy that runs the output (`nginxgen stack`).

Deployed with `docker stack deploy -c nginx-stack.yaml NAME`. What it carries, and why:

- an attachable overlay network, named as given (not prefixed with the stack's name), that the
  application stacks join as `external`: Docker's DNS (127.0.0.11) answers there, so the
  output's `tasks.<service>` and service names resolve;
- ports published in `mode: host`: the routing mesh (the default `ingress` mode) replaces the
  client's address by one of its own, so `X-Real-IP` and access rules would see the mesh;
- `./deployed` mounted as the conf.d directory, as in `nginxgen compose`, never a single file:
  `deploy` replaces the file by a rename, and a single-file bind mount keeps showing the old
  inode, so a reload would read the stale configuration;
- `deploy.update_config.order: stop-first`, deliberately: a host-mode port belongs to one task
  per node, so with `start-first` the new task never starts on the node whose old task holds
  the port (Swarm: "no suitable node (host-mode port already in use on 1 node)"; on one node the
  update hangs). Configuration changes need no task update anyway: `nginxgen deploy
  --swarm-service <stack>_nginx` reloads the running tasks; the services behind the proxy do
  update start-first (docs/swarm.md);
- `net.ipv4.tcp_tw_reuse=1` when an environment uses the variable strategy (docs/performance.md).
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from nginxgen.commands.compose import (
    DEPLOYED,
    HTPASSWD,
    htpasswd_files,
    numbered_sources,
    proxy_image,
    uses_variable,
)
from nginxgen.commands.project import open_project, plan_project
from nginxgen.commands.result import Report
from nginxgen.core.errors import UsageError
from nginxgen.core.facts import CERTBOT_CONF, CERTBOT_WEBROOT, CONF_D, LETSENCRYPT
from nginxgen.generation.models import Settings
from nginxgen.generation.plan_types import Plan

DEFAULT_NETWORK = "nginxgen"
TW_REUSE = "net.ipv4.tcp_tw_reuse"

_HEADER = """\
# The nginx proxy for nginxgen's output, as a Docker Swarm stack; printed by `nginxgen stack`.
# Deploy it from this directory: docker stack deploy -c nginx-stack.yaml proxy
# Application stacks join the network as `networks: {{{network}: {{external: true}}}}`; their
# services are then found as tasks.<service> (or by name, the virtual IP). ./deployed is
# bind-mounted as conf.d (a directory, never the single file): it must exist on every node that
# runs a proxy task (see docs/swarm.md). Put the output in with `nginxgen deploy --swarm-service
# <stack>_nginx` (every task on that Docker host; several nodes: docs/swarm.md).
# Updates of the proxy itself are stop-first: a host-mode port is held by one task per node, so
# a start-first task would wait for the port forever on a node whose old task holds it.
"""


def stack_document(
    plan: Plan,
    settings: Settings,
    *,
    network: str = DEFAULT_NETWORK,
    http_port: int = 80,
    https_port: int = 443,
    image: str | None = None,
    service: str = "nginx",
) -> dict[str, Any]:
    """The stack file as data: deterministic, same plan, same document."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}", network):
        raise UsageError(f"network {network!r}: letters, digits, '_', '.' and '-' only")
    https = any(environment.tls for environment in plan.environments)
    ports = [{"target": 80, "published": http_port, "protocol": "tcp", "mode": "host"}]
    if https:
        ports.append({"target": 443, "published": https_port, "protocol": "tcp", "mode": "host"})
    webroots = sorted({env.acme_webroot for env in plan.environments if env.acme_webroot})
    htpasswd_directories = sorted(
        {
            str(PurePosixPath(path).parent)
            for environment in plan.environments
            for path in htpasswd_files(environment)
        }
    )
    # Read-write: `nginxgen deploy` swaps the tested file in there, by rename.
    volumes: list[dict[str, Any]] = [{"type": "bind", "source": DEPLOYED, "target": CONF_D}]
    if https:
        volumes.append(
            {"type": "bind", "source": CERTBOT_CONF, "target": LETSENCRYPT, "read_only": True}
        )
    for sources in (
        numbered_sources(CERTBOT_WEBROOT, webroots),
        numbered_sources(HTPASSWD, htpasswd_directories),
    ):
        volumes += [
            {"type": "bind", "source": source, "target": target, "read_only": True}
            for source, target in sources
        ]
    proxy: dict[str, Any] = {
        "image": image or proxy_image(settings),
        "networks": [network],
        "ports": ports,
        "volumes": volumes,
    }
    if uses_variable(plan):
        proxy["sysctls"] = {TW_REUSE: 1}
    proxy["deploy"] = {
        "mode": "replicated",
        "replicas": 1,
        "update_config": {"order": "stop-first", "parallelism": 1, "failure_action": "rollback"},
        "restart_policy": {"condition": "any"},
    }
    return {
        "version": "3.8",
        "services": {service: proxy},
        "networks": {
            network: {"name": network, "driver": "overlay", "attachable": True},
        },
    }


def stack_file(plan: Plan, settings: Settings, **options: Any) -> str:
    document = stack_document(plan, settings, **options)
    network = str(next(iter(document["networks"])))
    return _HEADER.format(network=network) + yaml.safe_dump(
        document, sort_keys=False, default_flow_style=False
    )


def stack(
    environments: Path | None,
    settings_file: Path | None,
    *,
    network: str = DEFAULT_NETWORK,
    http_port: int = 80,
    https_port: int = 443,
    image: str | None = None,
) -> Report:
    project = open_project(settings_file, environments)
    plan = plan_project(project)
    text = stack_file(
        plan,
        project.settings,
        network=network,
        http_port=http_port,
        https_port=https_port,
        image=image,
    )
    return Report(stdout=text)
