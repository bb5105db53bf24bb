"""`nginxgen status`: the running proxy as it is now, read-only — for "why is staging 502?".

Which deployed version is live and whether it equals the output; the proxy's networks (Docker's
DNS answers at 127.0.0.11 on user-defined networks only); each environment's services as the
proxy resolves and reaches them; each certificate and htpasswd file as the container sees it.
Exit 1 when anything would stop a site or the next restart. With `--swarm-service`, one report
per running task of the service on this Docker host (each task resolves and reaches on its own);
for a service with its config as a Swarm config, one line per node's task (`swarm_rollout`).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from docker import DockerClient

from nginxgen.commands.compose import htpasswd_files
from nginxgen.commands.deploy import find_proxies, locate
from nginxgen.commands.project import open_project
from nginxgen.commands.result import EXIT_FINDINGS, EXIT_OK, Report, json_report
from nginxgen.core.facts import DOCKER_RESOLVER
from nginxgen.core.formats import OutputFormat
from nginxgen.docker.live import Refused, digest, version_of
from nginxgen.docker.operations import answers, kept_versions, resolve
from nginxgen.docker.proxy import ProxyContainer, connect
from nginxgen.docker.swarm_rollout import config_target, service_status, uses_config
from nginxgen.generation.loader import LoadedEnvironment
from nginxgen.generation.models import Settings, effective_strategy
from nginxgen.generation.naming import reached_host
from nginxgen.generation.pipeline import Generated, generate
from nginxgen.generation.plan_types import EnvironmentPlan
from nginxgen.nginx.certificates import CertificateSite, inspect_environment_certificates

Severity = Literal["error", "warning", "ok"]
# Networks on which Docker runs no DNS server for containers.
NO_DNS_NETWORKS = frozenset({"bridge", "host", "none"})


@dataclass(frozen=True)
class Finding:
    topic: str
    severity: Severity
    message: str
    environment: str | None = None

    def __str__(self) -> str:
        where = f"{self.environment}: " if self.environment else ""
        return f"{self.severity}: {self.topic}: {where}{self.message}"


def network_findings(networks: Sequence[str]) -> list[Finding]:
    user_defined = [name for name in networks if name not in NO_DNS_NETWORKS]
    if not user_defined:
        return [
            Finding(
                "network",
                "error",
                f"the proxy is only on {', '.join(networks) or 'no network'}: Docker's DNS "
                f"({DOCKER_RESOLVER}) answers only on user-defined networks, so no service "
                "name resolves and every site answers its unavailable page (and with the "
                "variable strategy each request first waits for the resolver to time out). "
                "Attach the proxy to the services' network (`networks:` in compose, or "
                "`docker network connect NETWORK CONTAINER`).",
            )
        ]
    return [Finding("network", "ok", f"on {', '.join(user_defined)} (Docker's DNS answers)")]


def version_findings(
    live: str | None, kept: Sequence[str], output: Path, output_text: str | None
) -> list[Finding]:
    if live is None:
        return [Finding("version", "error", "no live config: nothing deployed yet")]
    name = version_of(kept, live)
    findings = [
        Finding(
            "version",
            "ok",
            f"live: {name}"
            if name
            else f"live: {digest(live)}, not a kept version (put there without `nginxgen deploy`)",
        )
    ]
    if output_text is None:
        findings.append(Finding("drift", "warning", f"{output} does not exist here to compare"))
    elif output_text == live:
        findings.append(Finding("drift", "ok", f"the live config equals {output}"))
    else:
        findings.append(
            Finding(
                "drift",
                "warning",
                f"the live config differs from {output}: run `nginxgen deploy` "
                "(`--dry-run` shows the diff)",
            )
        )
    return findings


def service_findings(
    proxy: ProxyContainer, environments: Iterable[LoadedEnvironment], settings: Settings
) -> list[Finding]:
    findings = []
    for environment in environments:
        strategy = effective_strategy(environment.model, settings)
        for name, service in sorted(environment.model.services.items()):
            for given in service.addresses:
                # What nginx resolves: on swarm `tasks.<host>`, every task (docs/swarm.md).
                host = reached_host(given, settings.platform, strategy)
                label = f"service {name} ({host}:{service.port})"
                addresses = resolve(proxy, host)
                if not addresses:
                    findings.append(
                        Finding(
                            "service",
                            "error",
                            f"{label} does not resolve from inside the proxy: its routes "
                            "answer the unavailable page (container stopped, or not on the "
                            "proxy's network?)",
                            environment.name,
                        )
                    )
                    continue
                reached = [
                    address for address in addresses if answers(proxy, address, service.port)
                ]
                count = f"{len(addresses)} address{'es' if len(addresses) > 1 else ''}"
                if not reached:
                    findings.append(
                        Finding(
                            "service",
                            "error",
                            f"{label} resolves ({count}) but nothing accepts connections on "
                            f"port {service.port}",
                            environment.name,
                        )
                    )
                else:
                    findings.append(
                        Finding(
                            "service",
                            "ok",
                            f"{label}: {count}, {len(reached)} answering",
                            environment.name,
                        )
                    )
    return findings


def certificate_findings(
    proxy: ProxyContainer,
    environments: Iterable[EnvironmentPlan],
    now: datetime.datetime,
    warn_days: int,
) -> list[Finding]:
    findings: list[Finding] = []
    for environment in environments:
        if environment.tls is None:
            continue
        site = CertificateSite(
            environment.name,
            (environment.tls.certificate, environment.tls.certificate_key),
            environment.domains + environment.redirect_names,
        )
        for finding in inspect_environment_certificates(site, now, warn_days, proxy.read_file):
            severity: Severity = "ok" if finding.severity == "info" else finding.severity
            findings.append(
                Finding(
                    "certificate",
                    severity,
                    f"{finding.file}: {finding.message}",
                    finding.environment,
                )
            )
    return findings


def htpasswd_findings(
    proxy: ProxyContainer, environments: Iterable[EnvironmentPlan]
) -> list[Finding]:
    findings = []
    for environment in environments:
        for path in htpasswd_files(environment):
            try:
                data = proxy.read_file(path)
            except (FileNotFoundError, IsADirectoryError):
                findings.append(
                    Finding(
                        "htpasswd",
                        "error",
                        f"{path} is not in the proxy: every request there fails (500); mount "
                        "it (see `nginxgen compose`)",
                        environment.name,
                    )
                )
                continue
            users = [
                line
                for line in data.decode("utf-8", "replace").splitlines()
                if line.strip() and not line.startswith("#") and ":" in line
            ]
            severity: Severity = "ok" if users else "error"
            message = f"{path}: {len(users)} user(s)" + ("" if users else "; nobody can log in")
            findings.append(Finding("htpasswd", severity, message, environment.name))
    return findings


def inspect(
    proxy: ProxyContainer,
    generated: Generated,
    output: Path,
    now: datetime.datetime,
    settings: Settings,
    warn_days: int = 21,
) -> list[Finding]:
    findings: list[Finding] = []
    try:
        layout = locate(proxy, str(output))
        live = proxy.read_text(layout.live_path)
        kept = kept_versions(proxy, layout)
        output_text = output.read_text(encoding="utf-8") if output.is_file() else None
        findings += version_findings(live, kept, output, output_text)
    except Refused as refused:
        findings.append(Finding("version", "error", str(refused)))
    findings += network_findings(proxy.networks())
    findings += service_findings(proxy, generated.environments, settings)
    findings += certificate_findings(proxy, generated.plan.environments, now, warn_days)
    findings += htpasswd_findings(proxy, generated.plan.environments)
    return findings


def status(
    container: str | None,
    compose_service: str | None,
    environments: Path | None,
    settings_file: Path | None,
    output_format: OutputFormat,
    now: datetime.datetime | None = None,
    swarm_service: str | None = None,
) -> Report:
    project = open_project(settings_file, environments)
    generated = generate(project.directory, project.settings)
    try:
        if swarm_service is not None and not (container or compose_service):
            client, target = connect(), config_target(project.settings.output)
            if uses_config(client, swarm_service, target):
                return swarm_status_report(client, swarm_service, target, output_format)
        proxies = find_proxies(container, compose_service, swarm_service)
    except Refused as refused:
        return Report(EXIT_FINDINGS, f"status refused: {refused}\n")
    moment = now or datetime.datetime.now(datetime.UTC)
    output = Path(project.settings.output)
    reports = [
        (proxy.name, inspect(proxy, generated, output, moment, project.settings))
        for proxy in proxies
    ]
    failed = [name for name, findings in reports if _failed(findings)]
    exit_code = EXIT_FINDINGS if failed else EXIT_OK
    if output_format is OutputFormat.json:
        documents = [
            {
                "container": name,
                "ok": not _failed(findings),
                "findings": [asdict(finding) for finding in findings],
            }
            for name, findings in reports
        ]
        # One container: its report; a Swarm service: the list of its tasks' reports.
        return json_report(documents if swarm_service is not None else documents[0], exit_code)
    sections = [_text_section(name, findings) for name, findings in reports]
    text = "\n".join(sections)
    if swarm_service is not None:
        text += (
            f"\nservice {swarm_service}: {len(reports)} task(s), "
            + (f"problems in {', '.join(failed)}" if failed else "nothing stops a site")
            + "\n"
        )
    return Report(exit_code, text)


def swarm_status_report(
    client: DockerClient, service: str, target: str, output_format: OutputFormat
) -> Report:
    """A service whose config is a Swarm config: each node's task, through the manager."""
    status = service_status(client, service, target)
    exit_code = EXIT_OK if status.ok else EXIT_FINDINGS
    if output_format is OutputFormat.json:
        return json_report(status.document(), exit_code)
    return Report(exit_code, "".join(f"{line}\n" for line in status.lines()))


def _failed(findings: Iterable[Finding]) -> bool:
    return any(finding.severity == "error" for finding in findings)


def _text_section(name: str, findings: Sequence[Finding]) -> str:
    verdict = (
        "problems that stop a site or the next restart"
        if _failed(findings)
        else "nothing stops a site"
    )
    return f"proxy {name}\n" + "".join(f"{finding}\n" for finding in findings) + f"{verdict}\n"
