"""`nginxgen deploy`: the rendered output into the running proxy, through the live-proxy
system's deploy flow (`docker/deploy_flow.py`: tested in the proxy first, swapped, reloaded,
verified, probed, rolled back when anything fails). What is the environments' business stays
here: the probe targets, and tracing nginx's errors back to the environment files.

Exit 0 deployed · 1 refused or rolled back · 2 usage · 130 interrupted (after the critical
section finished or was undone).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from pathlib import Path

from nginxgen.commands.project import open_project, outcome_report
from nginxgen.commands.result import EXIT_FINDINGS, Report
from nginxgen.docker.deploy_flow import (
    Progress,
    Recording,
    Transcript,
    apply,
    find_proxies,
    locate_shared,
    quiet,
)
from nginxgen.docker.live import ProbeTarget, Refused
from nginxgen.docker.operations import CandidateTest
from nginxgen.docker.selection import BySwarmService, ProxySelection
from nginxgen.generation.loader import LoadedEnvironment
from nginxgen.generation.pipeline import Generated, generate
from nginxgen.generation.plan_types import EnvironmentPlan
from nginxgen.nginx.messages import NginxMessage

_CERTIFICATE_PATH = re.compile(r'cannot load certificate(?: key)? "(?P<path>[^"]+)"')


def probe_targets(generated: Generated) -> list[ProbeTarget]:
    """Each environment's primary domain over each port it serves, with its unavailable page."""
    loaded = {environment.name: environment for environment in generated.environments}
    targets = []
    for environment in generated.plan.environments:
        page = environment.error_page
        service = _root_service(loaded.get(environment.name))
        ports = ((443, True), (80, False)) if environment.tls else ((80, False),)
        for port, tls in ports:
            targets.append(
                ProbeTarget(
                    environment=environment.name,
                    host=environment.domains[0],
                    port=port,
                    tls=tls,
                    unavailable_status=page.status if page else None,
                    unavailable_body=page.body if page else None,
                    service=service,
                )
            )
    return targets


def _root_service(environment: LoadedEnvironment | None) -> str | None:
    """The service behind `/`, the path a probe asks for."""
    if environment is None:
        return None
    for route in environment.model.routes:
        if route.path == "/" and route.match == "prefix" and route.service:
            host = environment.model.services[route.service].addresses[0]
            return f"{route.service} ({host})"
    return None


def explain_test_failure(test: CandidateTest, environments: Sequence[EnvironmentPlan]) -> list[str]:
    """nginx's errors, each traced to its environment, with what to do for a missing certificate."""
    explained = []
    for message in test.messages:
        if not message.is_error:
            continue
        explained.append(str(message))
        advice = certificate_advice(message, environments)
        if advice:
            explained.append(advice)
    if not explained:
        explained.append(test.output.strip())
    return explained


def certificate_advice(message: NginxMessage, environments: Sequence[EnvironmentPlan]) -> str:
    """For a certificate nginx cannot load: whose it is and how to get it there."""
    match = _CERTIFICATE_PATH.search(message.text)
    if not match:
        return ""
    path = match["path"]
    for environment in environments:
        tls = environment.tls
        if tls and path in (tls.certificate, tls.certificate_key, tls.trusted_certificate):
            return (
                f"  environment {environment.name} ({environment.source}): {path} is not on the "
                f"proxy. Obtain the certificate for {environment.domains[0]} first through the "
                "ACME webroot on port 80 (deploy the environment with `tls: false` and an ACME "
                "route, run certbot, then restore `tls` and deploy again; docs/deploy.md), or "
                "point tls.certificate at the files the proxy has."
            )
    return f"  {path} is not on the proxy (no environment names it; an include?)"


def deploy(
    selection: ProxySelection,
    dry_run: bool,
    keep: int,
    environments: Path | None,
    settings_file: Path | None,
    now: datetime.datetime | None = None,
    progress: Progress = quiet,
) -> Report:
    project = open_project(settings_file, environments)
    progress("rendering and self-checking the environments…")
    generated = generate(project.directory, project.settings)
    transcript = Transcript()
    try:
        progress("finding the proxy…")
        proxies = find_proxies(selection)
        if isinstance(selection, BySwarmService):
            names = ", ".join(proxy.name for proxy in proxies)
            transcript.say(f"service {selection.service}: {len(proxies)} running task(s): {names}")
        layout = locate_shared(proxies, project.settings.output)
        moment = now or datetime.datetime.now(datetime.UTC)
        outcome = apply(
            proxies,
            layout,
            generated.text,
            transcript,
            targets=probe_targets(generated),
            explain=lambda test: explain_test_failure(test, generated.plan.environments),
            recording=Recording(keep, moment),
            dry_run=dry_run,
            progress=progress,
        )
    except Refused as refused:
        transcript.say(f"deploy refused: {refused}")
        return Report(EXIT_FINDINGS, transcript.text)
    if outcome.state == "deployed":
        transcript.say(f"deployed to {', '.join(proxy.name for proxy in proxies)}")
    return outcome_report(outcome, transcript)
