"""`nginxgen certs`: the certificate files the environments name, read where the proxy will see
them, as TLS clients will see them; with `acme` set, what the next deploy would obtain.
`nginxgen certs renew`: renew the certificates ACME keeps that are due, then reload the proxy
through the deploy path.

Where the files are read: the proxy sees `/etc/letsencrypt` through the mount `nginxgen
compose` prints (`./certbot/conf`), so with that directory here the files are read from it;
`--root DIR` reads every path under DIR instead (a copy of the proxy's filesystem, a chroot).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from pathlib import Path

from nginxgen.commands.certificates import acme_client, certificate_sites, orders
from nginxgen.commands.project import open_project, outcome_report, plan_project, probe_targets
from nginxgen.commands.result import EXIT_FINDINGS, EXIT_OK, Report, json_report
from nginxgen.core.errors import UsageError
from nginxgen.core.facts import CERTBOT_CONF, LETSENCRYPT
from nginxgen.core.formats import OutputFormat
from nginxgen.docker.acme import Certbot
from nginxgen.docker.deploy_flow import Outcome, Transcript, apply, find_proxies, locate_shared
from nginxgen.docker.live import Refused
from nginxgen.docker.selection import ProxySelection
from nginxgen.generation.models import AcmeSettings
from nginxgen.generation.pipeline import generate
from nginxgen.generation.plan_types import Plan
from nginxgen.nginx.certificates import (
    CertFinding,
    FileReader,
    Order,
    as_document,
    as_text,
    has_errors,
    inspect_certificates,
    issued,
    uncovered_domains,
)
from nginxgen.nginx.client_ca import inspect_client_ca


def host_reader(root: Path | None, here: Path) -> tuple[FileReader, str]:
    """How a path nginx loads is read on this machine, and a line saying so: under `root`; else
    certbot's directory through the compose layout's mount when `here` has it; else as is."""
    if root is not None:
        if not root.is_dir():
            raise UsageError(f"--root {root}: not a directory")
        return (
            lambda path: (root / path.lstrip("/")).read_bytes(),
            f"files read under {root} (--root)",
        )
    conf = here / CERTBOT_CONF
    if conf.is_dir():

        def read(path: str) -> bytes:
            inside = Path(path).relative_to(LETSENCRYPT) if path.startswith(LETSENCRYPT) else None
            return (conf / inside if inside is not None else Path(path)).read_bytes()

        return read, f"{LETSENCRYPT} read from {CERTBOT_CONF} (the mount `nginxgen compose` prints)"
    return (lambda path: Path(path).read_bytes()), ""


def next_deploy_obtains(order: Order, read: FileReader) -> bool:
    """Whether deploy would obtain this certificate: not there, unreadable, or short of a name."""
    try:
        names = issued(read(order.certificate)).names
        read(order.key)
    except (OSError, ValueError):
        return True
    return bool(uncovered_domains(names, order.domains))


def acme_findings(
    findings: Sequence[CertFinding], due: Sequence[Order], acme: AcmeSettings
) -> list[CertFinding]:
    """The findings with each certificate the next deploy obtains said as such, not as an error."""
    obtained = {order.environment: order for order in due}
    result = [finding for finding in findings if finding.environment not in obtained]
    for order in due:
        result.append(
            CertFinding(
                order.environment,
                order.certificate,
                "info",
                "next-deploy-issues",
                f"the next `nginxgen deploy` obtains it: certbot {acme.challenge} for "
                f"{', '.join(order.domains)} from {acme.directory}",
            )
        )
    return result


def certs(
    environments: Path | None,
    settings_file: Path | None,
    warn_days: int,
    output_format: OutputFormat,
    now: datetime.datetime | None = None,
    root: Path | None = None,
    here: Path | None = None,
) -> Report:
    project = open_project(settings_file, environments)
    plan = plan_project(project)
    moment = now or datetime.datetime.now(datetime.UTC)
    read, where = host_reader(root, here or Path.cwd())
    findings = inspect_certificates(certificate_sites(plan), moment, warn_days, read)
    acme = project.settings.acme
    if acme is not None:
        due = [
            order for order in orders(plan, project.settings) if next_deploy_obtains(order, read)
        ]
        findings = acme_findings(findings, due, acme)
    findings += _client_ca_findings(plan, moment, warn_days)
    exit_code = EXIT_FINDINGS if has_errors(findings) else EXIT_OK
    if output_format is OutputFormat.json:
        return json_report({**as_document(findings), "read": where or None}, exit_code)
    return Report(exit_code, (f"{where}\n" if where else "") + as_text(findings))


def _client_ca_findings(plan: Plan, moment: datetime.datetime, warn_days: int) -> list[CertFinding]:
    """mTLS: the client CA files (tls.client_certificates.ca) nginx loads as well."""
    return [
        finding
        for env in plan.environments
        if env.tls and env.tls.client_ca
        for finding in inspect_client_ca(env.name, env.tls.client_ca, moment, warn_days)
    ]


def renew(
    force: bool,
    selection: ProxySelection,
    environments: Path | None,
    settings_file: Path | None,
    now: datetime.datetime | None = None,
) -> Report:
    """Renew what expires within `acme.renew_before` days (everything with `force`), then
    reload the live config through the deploy path: tested in place, reloaded, verified,
    probed. Exit 0 renewed or nothing due, 1 when a renewal or the reload failed."""
    project = open_project(settings_file, environments)
    acme = project.settings.acme
    if acme is None or not acme.issues:
        raise UsageError("nginxgen.yaml has no acme.email: nothing is renewed by nginxgen")
    generated = generate(project.directory, project.settings)
    transcript = Transcript()
    moment = now or datetime.datetime.now(datetime.UTC)
    try:
        proxies = find_proxies(selection)
        layout = locate_shared(proxies, project.settings.output)
        proxy = proxies[0]
        managed, unmanaged = _renewable(orders(generated.plan, project.settings), proxy.read_file)
        transcript.say(
            *(
                f"{order.environment}: {order.name} has no {order.renewal_config}: not "
                "certbot's, left alone (placed by hand?)"
                for order in unmanaged
            )
        )
        due = _due(managed, proxy.read_file, moment, acme, force)
        if not due:
            transcript.say(f"nothing due: no certificate expires within {acme.renew_before} days")
            return Report(EXIT_OK, transcript.text)
        certbot = Certbot(proxy.client, proxy, acme_client(acme))
        failures = []
        for order in due:
            run = certbot.renew(order)
            if run.ok:
                transcript.say(f"{order.environment}: renewed {order.name}")
            else:
                failures.append(f"{order.environment}: not renewed: {run.reason}")
        transcript.say(*failures)
        live = proxy.read_text(layout.live_path)
        if live is None:
            transcript.say(f"no live config in {proxy.name}: nothing to reload")
            return Report(EXIT_FINDINGS, transcript.text)
        # The live config, unchanged, through the deploy path: nginx -t in place with the new
        # files, reload, verify, probe; a failure puts the live config back (the old
        # certificates stay in memory until a reload that takes).
        reloaded = apply(proxies, layout, live, transcript, targets=probe_targets(generated))
    except Refused as refused:
        transcript.say(f"renew refused: {refused}")
        return Report(EXIT_FINDINGS, transcript.text)
    if failures and reloaded.ok:
        reloaded = Outcome("refused", "renewal failed: the old certificates keep serving")
    return outcome_report(reloaded, transcript)


def _renewable(
    candidates: Sequence[Order], read: Callable[[str], bytes]
) -> tuple[list[Order], list[Order]]:
    """The orders certbot can renew (it has their renewal configuration), and the others."""
    managed, unmanaged = [], []
    for order in candidates:
        try:
            read(order.renewal_config)
            managed.append(order)
        except OSError:
            unmanaged.append(order)
    return managed, unmanaged


def _due(
    candidates: Sequence[Order],
    read: Callable[[str], bytes],
    now: datetime.datetime,
    acme: AcmeSettings,
    force: bool,
) -> list[Order]:
    due = []
    for order in candidates:
        try:
            served = issued(read(order.certificate))
        except (OSError, ValueError):
            continue  # not issued yet: deploy obtains it
        if force or served.due(now, acme.renew_before):
            due.append(order)
    return due
