"""`nginxgen certs`: the certificate files the environments name, as TLS clients will see them."""

from __future__ import annotations

import datetime
from pathlib import Path

from nginxgen.commands.project import open_project, plan_project
from nginxgen.commands.result import EXIT_FINDINGS, EXIT_OK, Report, json_report
from nginxgen.core.formats import OutputFormat
from nginxgen.generation.plan_types import Plan
from nginxgen.nginx.certificates import (
    CertificateSite,
    as_document,
    as_text,
    has_errors,
    inspect_certificates,
)
from nginxgen.nginx.client_ca import inspect_client_ca


def certificate_sites(plan: Plan) -> list[CertificateSite]:
    """What each environment's HTTPS server loads, and every name it answers for with it."""
    return [
        CertificateSite(
            env.name,
            (env.tls.certificate, env.tls.certificate_key) if env.tls else None,
            env.domains + env.redirect_names,
        )
        for env in plan.environments
    ]


def certs(
    environments: Path | None,
    settings_file: Path | None,
    warn_days: int,
    output_format: OutputFormat,
    now: datetime.datetime | None = None,
) -> Report:
    plan = plan_project(open_project(settings_file, environments))
    moment = now or datetime.datetime.now(datetime.UTC)
    findings = inspect_certificates(certificate_sites(plan), moment, warn_days)
    # mTLS: the client CA files (tls.client_certificates.ca) nginx loads as well.
    findings += [
        finding
        for env in plan.environments
        if env.tls and env.tls.client_ca
        for finding in inspect_client_ca(env.name, env.tls.client_ca, moment, warn_days)
    ]
    exit_code = EXIT_FINDINGS if has_errors(findings) else EXIT_OK
    if output_format is OutputFormat.json:
        return json_report(as_document(findings), exit_code)
    return Report(exit_code, as_text(findings))
