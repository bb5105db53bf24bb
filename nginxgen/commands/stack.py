"""Plan → a Docker Swarm stack file for the proxy on any number of nodes (`nginxgen stack`).

Deployed with `docker stack deploy -c nginx-stack.yaml NAME` from the project directory of the
node that issued the certificates. The service itself (config, secrets, global mode, host-mode
ports, rolling-update policy, health check) is `docker/swarm_stack.py`'s; this module finds the
values: the output file and its config name, each certificate and htpasswd file as the secret
of its local file, the ACME webroot as a read-only bind mount (it must exist on every node;
docs/swarm.md), an attachable overlay network named as given, and `net.ipv4.tcp_tw_reuse=1`
when an environment uses the variable strategy (docs/performance.md).
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from nginxgen.commands.project import htpasswd_files, open_project, plan_project, uses_variable
from nginxgen.commands.result import Report
from nginxgen.core.errors import UsageError
from nginxgen.core.facts import CERTBOT_CONF, CERTBOT_WEBROOT, LETSENCRYPT, proxy_image
from nginxgen.docker.mounts import HTPASSWD, numbered_sources
from nginxgen.docker.swarm_objects import config_name_of, secret_name
from nginxgen.docker.swarm_rollout import config_target
from nginxgen.docker.swarm_stack import multi_node_service, stack_objects
from nginxgen.generation.models import Settings
from nginxgen.generation.plan_types import Plan

DEFAULT_NETWORK = "nginxgen"
TW_REUSE = "net.ipv4.tcp_tw_reuse"

_HEADER = """\
# The nginx proxy for nginxgen's output on every node of a Docker Swarm; printed by `nginxgen
# stack`. Deploy it from the project directory of the node that issued the certificates:
#   docker stack deploy -c nginx-stack.yaml proxy
# The output is the Swarm config {config} (from {output}), certificates and
# htpasswd files are secrets from this node's files: Swarm carries them to every node. A task
# per node (mode: global) on host-mode ports, behind your load balancer (docs/swarm.md).
# Application stacks join the network as `networks: {{{network}: {{external: true}}}}`.
# Later changes: `nginxgen deploy --swarm-service proxy_nginx` (a new config, rolled out one node
# at a time, stop-first: a start-first task would wait for the host-mode port forever).
"""


def secret_sources(plan: Plan) -> dict[str, str]:
    """Each certificate, key and htpasswd file the proxy reads → the local file it comes from
    (where `nginxgen compose` mounts it from)."""
    files: dict[str, str] = {}
    for environment in plan.environments:
        tls = environment.tls
        if tls:
            for path in (tls.certificate, tls.certificate_key, tls.trusted_certificate):
                if path and path.startswith(f"{LETSENCRYPT}/"):
                    files[path] = CERTBOT_CONF + path[len(LETSENCRYPT) :]
    directories = sorted(
        {
            str(PurePosixPath(path).parent)
            for env in plan.environments
            for path in htpasswd_files(env)
        }
    )
    sources = {target: source for source, target in numbered_sources(HTPASSWD, directories)}
    for environment in plan.environments:
        for path in htpasswd_files(environment):
            files[path] = f"{sources[str(PurePosixPath(path).parent)]}/{PurePosixPath(path).name}"
    return files


def _content_name(source: str, make_name: Any) -> str:
    try:
        return str(make_name(Path(source).read_bytes()))
    except OSError as error:
        raise UsageError(
            f"{source}: cannot read it ({error.strerror}): the stack carries it as a Swarm "
            "object named after its content, so print the stack on the node that has it (the "
            "issuing node for certificates; `nginxgen render` writes the output)"
        ) from None


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
    """The stack file as data: deterministic, same plan and files, same document."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}", network):
        raise UsageError(f"network {network!r}: letters, digits, '_', '.' and '-' only")
    https = any(environment.tls for environment in plan.environments)
    ports = [{"target": 80, "published": http_port, "protocol": "tcp", "mode": "host"}]
    if https:
        ports.append({"target": 443, "published": https_port, "protocol": "tcp", "mode": "host"})
    webroots = sorted({env.acme_webroot for env in plan.environments if env.acme_webroot})
    volumes = [
        {"type": "bind", "source": source, "target": target, "read_only": True}
        for source, target in numbered_sources(CERTBOT_WEBROOT, webroots)
    ]
    output = f"./{PurePosixPath(settings.output)}"
    config = _content_name(output, config_name_of)
    secrets = {
        path: _content_name(source, secret_name) for path, source in secret_sources(plan).items()
    }
    proxy = multi_node_service(
        image=image or proxy_image(settings.check.image, settings.nginx_version),
        network=network,
        ports=ports,
        config=(config, config_target(settings.output)),
        secrets=secrets,
        volumes=volumes,
        health_host=plan.environments[0].domains[0],
    )
    if uses_variable(plan):
        proxy["sysctls"] = {TW_REUSE: 1}
    sources = {secrets[path]: source for path, source in secret_sources(plan).items()}
    return {
        "version": "3.8",
        "services": {service: proxy},
        "networks": {
            network: {"name": network, "driver": "overlay", "attachable": True},
        },
        **stack_objects((config, output), sources),
    }


def stack_file(plan: Plan, settings: Settings, **options: Any) -> str:
    document = stack_document(plan, settings, **options)
    network = str(next(iter(document["networks"])))
    config, source = next(iter(document["configs"].items()))
    return _HEADER.format(network=network, config=config, output=source["file"]) + yaml.safe_dump(
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
