"""The project a command works on: `nginxgen.yaml`, the environments directory, the plan, what
the plan implies for the proxy container (its mounts, its image), and which proxy is its own.

Not a command: the helpers several commands share, so that no command imports another."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from nginxgen.commands.result import EXIT_FINDINGS, EXIT_INTERRUPTED, EXIT_OK, Report
from nginxgen.core.errors import ConfigError
from nginxgen.core.facts import proxy_image
from nginxgen.docker.mounts import ProxyMount, proxy_mounts
from nginxgen.docker.selection import ComposeProject, ProxySelection, proxy_selection
from nginxgen.generation.loader import LoadedEnvironment, load_settings, read_environments
from nginxgen.generation.models import Settings
from nginxgen.generation.pipeline import Generated
from nginxgen.generation.plan import build_plan
from nginxgen.generation.plan_types import EnvironmentPlan, Plan
from nginxgen.nginx.messages import NginxMessage

if TYPE_CHECKING:
    # Types only: every command opens its project here, and `render` must not load Docker.
    from nginxgen.docker.deploy_flow import Outcome, Transcript
    from nginxgen.docker.live import ProbeTarget
    from nginxgen.docker.operations import CandidateTest

IMAGE_VARIABLE = "NGINXGEN_NGINX_IMAGE"


@dataclass(frozen=True)
class Project:
    settings: Settings
    directory: Path


def open_project(settings_file: Path | None, environments: Path | None) -> Project:
    """Settings and the environments directory; an invalid settings file is reported together
    with the environment files' own problems, as far as they show without settings."""
    try:
        settings = load_settings(settings_file)
    except ConfigError as error:
        directory = environments or Path(Settings().environments)
        try:
            _, problems = read_environments(directory)
        except ConfigError as unreadable:
            problems = unreadable.problems
        raise ConfigError([*error.problems, *problems]) from None
    return Project(settings, environments or Path(settings.environments))


def plan_project(project: Project) -> Plan:
    """The validated plan of every environment; nothing rendered."""
    loaded, problems = read_environments(project.directory)
    return build_plan(loaded, project.settings, problems)


def warnings_text(plan: Plan) -> str:
    return "".join(f"{warning}\n" for warning in plan.warnings)


def htpasswd_files(environment: EnvironmentPlan) -> list[str]:
    """The htpasswd files an environment's server or locations name."""
    accesses = [environment.access, *(location.access for location in environment.locations)]
    return sorted({access.htpasswd for access in accesses if access and access.htpasswd})


def uses_variable(plan: Plan) -> bool:
    return any(environment.strategy == "variable" for environment in plan.environments)


def plan_mounts(plan: Plan) -> list[ProxyMount]:
    """The proxy container's mounts for this plan (compose and stack print them)."""
    return proxy_mounts(
        https=any(environment.tls for environment in plan.environments),
        webroots={env.acme_webroot for env in plan.environments if env.acme_webroot},
        htpasswd_directories={
            str(PurePosixPath(path).parent)
            for environment in plan.environments
            for path in htpasswd_files(environment)
        },
    )


def select_proxy(
    container: str | None,
    compose_service: str | None,
    swarm_service: str | None,
    compose_project: str | None,
    settings_file: Path | None,
) -> ProxySelection:
    """The proxy the options name, validated once. This project's compose project lives where
    its settings file is (the current directory by default), as compose's does."""
    directory = settings_file.parent if settings_file else Path()
    here = ComposeProject.here(directory, os.environ, compose_project)
    return proxy_selection(container, compose_service, swarm_service, here)


def outcome_report(outcome: Outcome, transcript: Transcript) -> Report:
    """A deploy's or rollback's exit: 0 deployed (or tested) · 1 refused or rolled back · 130 a
    signal arrived, said with where the proxy stands once the critical section had finished or
    been undone."""
    if outcome.signal is not None:
        return Report(
            EXIT_INTERRUPTED,
            transcript.text,
            f"nginxgen: interrupted ({outcome.signal}): {outcome.where}\n",
        )
    return Report(EXIT_OK if outcome.ok else EXIT_FINDINGS, transcript.text)


# ---- what deploy and `certs renew` tell the live-proxy system about the environments -----

_CERTIFICATE_PATH = re.compile(r'cannot load certificate(?: key)? "(?P<path>[^"]+)"')


def probe_targets(generated: Generated) -> list[ProbeTarget]:
    """Each environment's primary domain over each port it serves, with its unavailable page."""
    from nginxgen.docker.live import ProbeTarget

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
                    host=environment.probe_host,
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
                f"proxy. With acme.email in nginxgen.yaml, deploy obtains the certificate for "
                f"{environment.domains[0]} itself through the ACME webroot on port 80 "
                "(docs/certificates.md); or point tls.certificate at the files the proxy has."
            )
    return f"  {path} is not on the proxy (no environment names it; an include?)"


def resolve_image(
    option: str | None, settings: Settings, environ: Mapping[str, str] = os.environ
) -> str:
    """The nginx image to test with (`check`, `test`, `explain`): `--image`, else
    $NGINXGEN_NGINX_IMAGE, else the proxy's image."""
    return (
        option
        or environ.get(IMAGE_VARIABLE)
        or proxy_image(settings.check.image, settings.nginx_version)
    )


# The typed proxy choice, for cli.py (which imports only commands).
__all__ = ["ProxySelection"]
