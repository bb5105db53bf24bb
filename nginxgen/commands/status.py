"""`nginxgen status`: the running proxy as it is now, read-only — for "why is staging 502?".

Two things apart. **live**: what runs and what a restart would do with the files the proxy has:
an interrupted deploy (its journal), the layout (conf.d must not be `out/`), which deployed
version is live, `nginx -t` on the live files, the proxy's networks (Docker's DNS answers at
127.0.0.11 on user-defined networks only), each environment's services as the proxy resolves and
reaches them, and the certificate and htpasswd files the live config names. **candidate**: what
the next deploy of `out/` needs: whether it differs from the live file, and the files it names
that the live config does not. Exit 1 when either has an error. With `--swarm-service`, one
report per running task of the service on this Docker host (each resolves and reaches on its
own).

The result is data (`StatusResult`); `status_text` and `status_json` format it.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

from nginxgen.commands.certificates import acme_states
from nginxgen.commands.project import htpasswd_files, open_project
from nginxgen.commands.result import EXIT_FINDINGS, EXIT_OK, Report, json_report
from nginxgen.commands.status_metrics import openmetrics_report, service_facts
from nginxgen.core.facts import DOCKER_RESOLVER
from nginxgen.core.formats import StatusFormat
from nginxgen.core.openmetrics import ServiceFact
from nginxgen.docker import journal
from nginxgen.docker.deploy_flow import Progress, find_proxies, locate, quiet, render_directory
from nginxgen.docker.live import (
    LiveLayout,
    Refused,
    digest,
    render_directory_mounted,
    version_of,
)
from nginxgen.docker.operations import kept_versions
from nginxgen.docker.proxy import ProxyContainer, connect
from nginxgen.docker.selection import BySwarmService, ProxySelection
from nginxgen.docker.swarm_rollout import config_target, service_status, uses_config
from nginxgen.generation.loader import LoadedEnvironment
from nginxgen.generation.models import Settings
from nginxgen.generation.pipeline import Generated, generate
from nginxgen.generation.plan_types import EnvironmentPlan
from nginxgen.nginx.certificates import CertificateSite, inspect_environment_certificates
from nginxgen.nginx.client_ca import inspect_client_ca
from nginxgen.nginx.messages import nginx_version, parse_messages

Severity = Literal["error", "warning", "ok"]
# live: what runs, and what a restart does with the proxy's files; candidate: what the next
# deploy of out/ needs.
Scope = Literal["live", "candidate"]
# Networks on which Docker runs no DNS server for containers.
NO_DNS_NETWORKS = frozenset({"bridge", "host", "none"})


@dataclass(frozen=True)
class Finding:
    topic: str
    severity: Severity
    message: str
    environment: str | None = None
    scope: Scope = "live"

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
        drift = Finding("drift", "warning", f"{output} does not exist here to compare")
    elif output_text == live:
        drift = Finding("drift", "ok", f"the live config equals {output}")
    else:
        drift = Finding(
            "drift",
            "warning",
            f"the live config differs from {output}: run `nginxgen deploy` "
            "(`--dry-run` shows the diff)",
        )
    return [*findings, replace(drift, scope="candidate")]


def service_findings(
    proxy: ProxyContainer, environments: Iterable[LoadedEnvironment], settings: Settings
) -> list[Finding]:
    return [_service_finding(fact) for fact in service_facts(proxy, environments, settings)]


def _service_finding(fact: ServiceFact) -> Finding:
    label = f"service {fact.service} ({fact.host}:{fact.port})"
    if not fact.addresses:
        return Finding(
            "service",
            "error",
            f"{label} does not resolve from inside the proxy: its routes answer the "
            "unavailable page (container stopped, or not on the proxy's network?)",
            fact.environment,
        )
    count = f"{fact.addresses} address{'es' if fact.addresses > 1 else ''}"
    if not fact.answering:
        return Finding(
            "service",
            "error",
            f"{label} resolves ({count}) but nothing accepts connections on port {fact.port}",
            fact.environment,
        )
    return Finding(
        "service", "ok", f"{label}: {count}, {fact.answering} answering", fact.environment
    )


def _scoped(finding: Finding, path: str, live_text: str | None) -> Finding:
    """A file the live config names is the live proxy's concern (a restart, or requests now,
    use it); one only the candidate names is what the next deploy needs. Certificate messages
    speak of nginx refusing to start with the file: true of the next deploy, not of a restart
    with the live files."""
    if live_text is not None and path in live_text:
        return finding
    message = finding.message.replace("; nginx refuses to start", "")
    if finding.severity == "error":
        message += (
            "; the next deploy is refused until it is fixed (the live config does not use it)"
        )
    return replace(finding, message=message, scope="candidate")


def certificate_findings(
    proxy: ProxyContainer,
    environments: Iterable[EnvironmentPlan],
    now: datetime.datetime,
    warn_days: int,
    live_text: str | None = None,
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
        inspected = inspect_environment_certificates(site, now, warn_days, proxy.read_file)
        if environment.tls.client_ca:  # mTLS: the client CA file (docs/tls.md)
            inspected += inspect_client_ca(
                environment.name, environment.tls.client_ca, now, warn_days, proxy.read_file
            )
        for finding in inspected:
            severity: Severity = "ok" if finding.severity == "info" else finding.severity
            found = Finding(
                "certificate", severity, f"{finding.file}: {finding.message}", finding.environment
            )
            findings.append(_scoped(found, finding.file, live_text))
    return findings


def htpasswd_findings(
    proxy: ProxyContainer, environments: Iterable[EnvironmentPlan], live_text: str | None = None
) -> list[Finding]:
    findings = []
    for environment in environments:
        for path in htpasswd_files(environment):
            findings.append(
                _scoped(_htpasswd_finding(proxy, path, environment.name), path, live_text)
            )
    return findings


def _htpasswd_finding(proxy: ProxyContainer, path: str, environment: str) -> Finding:
    try:
        data = proxy.read_file(path)
    except (FileNotFoundError, IsADirectoryError):
        return Finding(
            "htpasswd",
            "error",
            f"{path} is not in the proxy: every request there fails (500); mount it (see "
            "`nginxgen compose`)",
            environment,
        )
    users = [
        line
        for line in data.decode("utf-8", "replace").splitlines()
        if line.strip() and not line.startswith("#") and ":" in line
    ]
    severity: Severity = "ok" if users else "error"
    message = f"{path}: {len(users)} user(s)" + ("" if users else "; nobody can log in")
    return Finding("htpasswd", severity, message, environment)


def restart_findings(proxy: ProxyContainer, layout: LiveLayout, live: str | None) -> list[Finding]:
    """`nginx -t` on the files the proxy has now: what a restart of the container would do."""
    result = proxy.run(["nginx", "-v", "-t"])
    version = nginx_version(result.output)
    if result.exit_code == 0:
        return [
            Finding(
                "restart",
                "ok",
                f"nginx -t passes on the live files ({version}): a restart loads them",
            )
        ]
    texts = {layout.name: live} if live is not None else {}
    errors = [
        str(message)
        for message in parse_messages(result.output, {layout.live_path: layout.name}, texts)
        if message.is_error
    ]
    shown = "; ".join(errors) or result.output.strip()
    return [
        Finding(
            "restart",
            "error",
            f"nginx -t fails on the live files ({version}): a restart of {proxy.name} would not "
            f"start nginx: {shown}",
        )
    ]


def layout_findings(proxy: ProxyContainer, output: Path) -> tuple[LiveLayout | None, list[Finding]]:
    """The live layout, an interrupted deploy's journal, and a conf.d that is `out/`."""
    try:
        layout = locate(proxy, str(output), refuse_render_directory=False)
    except Refused as refused:
        return None, [Finding("version", "error", str(refused))]
    findings = []
    if layout.mount_source.rstrip("/") == render_directory(str(output)):
        findings.append(Finding("layout", "error", render_directory_mounted(layout.mount_source)))
    unfinished = journal.read(proxy, layout)
    if unfinished is not None:
        live = proxy.read_text(layout.live_path)
        findings.append(Finding("deploy", "error", unfinished.explain(live, proxy.name)))
    return layout, findings


def inspect(
    proxy: ProxyContainer,
    generated: Generated,
    output: Path,
    now: datetime.datetime,
    settings: Settings,
    warn_days: int = 21,
) -> list[Finding]:
    layout, findings = layout_findings(proxy, output)
    live: str | None = None
    if layout is not None:
        live = proxy.read_text(layout.live_path)
        kept = kept_versions(proxy, layout)
        output_text = output.read_text(encoding="utf-8") if output.is_file() else None
        findings += version_findings(live, kept, output, output_text)
        if live is not None:
            findings += restart_findings(proxy, layout, live)
    findings += network_findings(proxy.networks())
    findings += service_findings(proxy, generated.environments, settings)
    # ACME (docs/certificates.md): warn within renew_before; issuer, days, renewal config.
    if settings.acme is not None:
        warn_days = settings.acme.renew_before
    findings += certificate_findings(proxy, generated.plan.environments, now, warn_days, live)
    findings += [
        Finding("certificate", severity, line, environment)
        for environment, severity, line in acme_states(
            generated.plan, settings, proxy.read_file, now
        )
    ]
    findings += htpasswd_findings(proxy, generated.plan.environments, live)
    return findings


@dataclass(frozen=True)
class ProxyStatus:
    container: str
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not _failed(self.findings)

    def scope(self, scope: Scope) -> list[Finding]:
        return [finding for finding in self.findings if finding.scope == scope]


@dataclass(frozen=True)
class StatusResult:
    """One `ProxyStatus` per container (a Swarm service: per task); `service` names the
    service when there is one."""

    proxies: tuple[ProxyStatus, ...]
    service: str | None = None

    @property
    def ok(self) -> bool:
        return all(proxy.ok for proxy in self.proxies)


def status_result(
    selection: ProxySelection,
    environments: Path | None,
    settings_file: Path | None,
    now: datetime.datetime | None = None,
    progress: Progress = quiet,
) -> StatusResult:
    project = open_project(settings_file, environments)
    generated = generate(project.directory, project.settings)
    progress("finding the proxy…")
    proxies = find_proxies(selection)
    moment = now or datetime.datetime.now(datetime.UTC)
    output = Path(project.settings.output)
    reports = []
    for proxy in proxies:
        progress(f"inspecting {proxy.name}…")
        findings = inspect(proxy, generated, output, moment, project.settings)
        reports.append(ProxyStatus(proxy.name, tuple(findings)))
    service = selection.service if isinstance(selection, BySwarmService) else None
    return StatusResult(tuple(reports), service)


def status(
    selection: ProxySelection,
    environments: Path | None,
    settings_file: Path | None,
    output_format: StatusFormat,
    now: datetime.datetime | None = None,
    progress: Progress = quiet,
) -> Report:
    if output_format is StatusFormat.openmetrics:  # docs/metrics.md
        return _openmetrics(selection, environments, settings_file)
    if isinstance(selection, BySwarmService):
        # A service with its config as a Swarm config: each node's task, through the manager.
        project = open_project(settings_file, environments)
        client, target = connect(), config_target(project.settings.output)
        if uses_config(client, selection.service, target):
            swarm = service_status(client, selection.service, target)
            exit_code = EXIT_OK if swarm.ok else EXIT_FINDINGS
            if output_format is StatusFormat.json:
                return json_report(swarm.document(), exit_code)
            return Report(exit_code, "".join(f"{line}\n" for line in swarm.lines()))
    try:
        result = status_result(selection, environments, settings_file, now, progress)
    except Refused as refused:
        return Report(EXIT_FINDINGS, f"status refused: {refused}\n")
    exit_code = EXIT_OK if result.ok else EXIT_FINDINGS
    if output_format is StatusFormat.json:
        return json_report(status_json(result), exit_code)
    return Report(exit_code, status_text(result))


def status_json(result: StatusResult) -> object:
    """One container: its report; a Swarm service: the list of its tasks' reports."""
    documents = [
        {
            "container": proxy.container,
            "ok": proxy.ok,
            "findings": [asdict(finding) for finding in proxy.findings],
        }
        for proxy in result.proxies
    ]
    return documents if result.service is not None else documents[0]


def status_text(result: StatusResult) -> str:
    text = "\n".join(_text_section(proxy) for proxy in result.proxies)
    if result.service is not None:
        failed = [proxy.container for proxy in result.proxies if not proxy.ok]
        text += (
            f"\nservice {result.service}: {len(result.proxies)} task(s), "
            + (f"problems in {', '.join(failed)}" if failed else "nothing stops a site")
            + "\n"
        )
    return text


def _failed(findings: Iterable[Finding]) -> bool:
    return any(finding.severity == "error" for finding in findings)


def _text_section(proxy: ProxyStatus) -> str:
    live, candidate = proxy.scope("live"), proxy.scope("candidate")
    text = f"proxy {proxy.container}\n" + "".join(f"{finding}\n" for finding in live)
    text += (
        "live: problems that stop a site or the next restart\n"
        if _failed(live)
        else "live: nothing stops a site\n"
    )
    if candidate:
        text += "".join(f"{finding}\n" for finding in candidate)
        text += (
            "candidate: the next deploy would be refused or fail until these are fixed\n"
            if _failed(candidate)
            else "candidate: nothing stops the next deploy\n"
        )
    return text


def _openmetrics(
    selection: ProxySelection, environments: Path | None, settings_file: Path | None
) -> Report:
    """The status facts as OpenMetrics text (node_exporter's textfile collector): exit 0
    whenever the facts were gathered, so a cron line keeps them (docs/metrics.md)."""
    project = open_project(settings_file, environments)
    generated = generate(project.directory, project.settings)
    output = Path(project.settings.output)
    where = str(output)
    return openmetrics_report(
        find_proxies(selection),
        generated,
        output,
        project.settings,
        lambda proxy: locate(proxy, where, refuse_render_directory=False),
    )
