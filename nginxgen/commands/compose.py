"""Plan → a docker-compose service for the proxy that runs the output (`nginxgen compose`).

The snippet carries what the plan implies for the container: the output mounted into conf.d,
the certificate and ACME webroot volumes when an environment serves HTTPS, and, when an
environment uses the variable strategy, the sysctl that keeps its per-request upstream
connections from exhausting the container's ports (docs/performance.md).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from nginxgen.commands.project import open_project, plan_project
from nginxgen.commands.result import Report
from nginxgen.core.facts import CONF_D, DEFAULT_IMAGE, LETSENCRYPT, conf_d_name
from nginxgen.generation.models import Settings
from nginxgen.generation.plan_types import Plan

CERTBOT_CONF = "./certbot/conf"
CERTBOT_WEBROOT = "./certbot/www"

_HEADER = """\
# The nginx proxy for nginxgen's output; printed by `nginxgen compose`. Merge it into the
# `services:` of your compose file.
# Networks: nginx finds services through Docker's DNS (127.0.0.11), which answers only on
# user-defined networks. Services of the same compose project share its `default` network;
# to reach containers of another project, add that project's network here and declare it
# under the top-level `networks:` as `external: true`.
"""

_TW_REUSE_WHY = """\
    # Some environments use the variable strategy: nginx opens a new connection to the service
    # for every request, and each one it closes waits 60 s in TIME_WAIT. Under sustained load
    # they fill the container's ephemeral ports and throughput collapses (docs/performance.md).
    # This lets new outgoing connections reuse those ports. nginx >= 1.27.3 (nginx_version)
    # with strategy auto pools connections instead and needs no sysctl.
"""


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _host_path(output: str) -> str:
    """The output as a compose bind-mount source: relative paths start with `./`."""
    path = PurePosixPath(output)
    return str(path) if path.is_absolute() or output.startswith("./") else f"./{path}"


def uses_variable(plan: Plan) -> bool:
    return any(environment.strategy == "variable" for environment in plan.environments)


def compose_service(plan: Plan, settings: Settings, service: str = "nginx") -> str:
    """The compose YAML for the proxy service: deterministic, same plan, same text."""
    image = settings.check.image or DEFAULT_IMAGE
    https = any(environment.tls for environment in plan.environments)
    webroots = sorted(
        {env.acme_webroot for env in plan.environments if env.acme_webroot is not None}
    )
    mounted_as = conf_d_name(PurePosixPath(settings.output).name)
    volumes = [f"{_host_path(settings.output)}:{CONF_D}/{mounted_as}:ro"]
    if https:
        volumes.append(f"{CERTBOT_CONF}:{LETSENCRYPT}:ro")
    # certbot writes challenges to the first webroot; others are the user's own directories.
    for index, webroot in enumerate(webroots):
        source = CERTBOT_WEBROOT if index == 0 else f"{CERTBOT_WEBROOT}{webroot}"
        volumes.append(f"{source}:{webroot}:ro")
    lines = [
        "services:",
        f"  {service}:",
        f"    image: {_quoted(image)}",
        "    ports:",
        '      - "80:80"',
    ]
    if https:
        lines.append('      - "443:443"')
    if any(environment.quic is not None for environment in plan.environments):
        lines.append('      - "443:443/udp"  # HTTP/3 (QUIC)')
    lines.append("    volumes:")
    lines += [f"      - {_quoted(volume)}" for volume in volumes]
    if uses_variable(plan):
        lines.append(_TW_REUSE_WHY.rstrip("\n"))
        lines += ["    sysctls:", "      net.ipv4.tcp_tw_reuse: 1"]
    lines.append("    restart: unless-stopped")
    return _HEADER + "\n".join(lines) + "\n"


def compose(environments: Path | None, settings_file: Path | None) -> Report:
    project = open_project(settings_file, environments)
    return Report(stdout=compose_service(plan_project(project), project.settings))
