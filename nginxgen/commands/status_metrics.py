"""`nginxgen status --format openmetrics`: the status facts of each proxy gathered as plain
values (`nginxgen.core.openmetrics` writes them down): certificate and client CA expiry as the
proxy reads the files, each service as the proxy resolves and reaches it, drift of the live
config, and the last deploy. Exit 0 whenever the facts were gathered: the findings are in the
figures, and a textfile collector's cron job must not lose them to a non-zero exit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from nginxgen.commands.result import Report
from nginxgen.core.openmetrics import CertificateFact, ServiceFact, StatusFacts, openmetrics_text
from nginxgen.docker.deploy_record import last_deploy
from nginxgen.docker.live import LiveLayout, Refused
from nginxgen.docker.operations import answers, resolve
from nginxgen.docker.proxy import ProxyContainer
from nginxgen.generation.loader import LoadedEnvironment
from nginxgen.generation.models import Settings, effective_strategy
from nginxgen.generation.naming import reached_host
from nginxgen.generation.pipeline import Generated
from nginxgen.nginx.client_ca import first_expiry

Locate = Callable[[ProxyContainer], LiveLayout]


def certificate_facts(proxy: ProxyContainer, generated: Generated) -> Iterator[CertificateFact]:
    for environment in generated.plan.environments:
        tls = environment.tls
        if tls is None:
            continue
        names = environment.domains + environment.redirect_names
        expires = first_expiry(tls.certificate, proxy.read_file)
        yield CertificateFact(environment.name, tls.certificate, names, expires)
        if tls.client_ca:
            expires = first_expiry(tls.client_ca, proxy.read_file)
            yield CertificateFact(environment.name, tls.client_ca, (), expires, "client_ca")


def service_facts(
    proxy: ProxyContainer, environments: Iterable[LoadedEnvironment], settings: Settings
) -> Iterator[ServiceFact]:
    """Each service address as nginx looks it up (on swarm `tasks.<host>`, every task:
    docs/swarm.md), resolved and connected to from inside the proxy; `status` words the same
    facts as findings."""
    for environment in environments:
        strategy = effective_strategy(environment.model, settings)
        for name, service in sorted(environment.model.services.items()):
            for given in service.addresses:
                host = reached_host(given, settings.platform, strategy)
                addresses = resolve(proxy, host)
                reached = [
                    address for address in addresses if answers(proxy, address, service.port)
                ]
                yield ServiceFact(
                    environment.name, name, host, service.port, len(addresses), len(reached)
                )


def status_facts(
    proxy: ProxyContainer, generated: Generated, output: Path, settings: Settings, locate: Locate
) -> StatusFacts:
    drift = deploy = None
    try:
        layout = locate(proxy)
        live = proxy.read_text(layout.live_path)
        if live is not None and output.is_file():
            drift = output.read_text(encoding="utf-8") != live
        deploy = last_deploy(proxy, layout)
    except Refused:
        pass  # no live layout: neither drift nor a deploy to tell of
    return StatusFacts(
        proxy=proxy.name,
        certificates=tuple(certificate_facts(proxy, generated)),
        services=tuple(service_facts(proxy, generated.environments, settings)),
        drift=drift,
        last_deploy=deploy,
    )


def openmetrics_report(
    proxies: Sequence[ProxyContainer],
    generated: Generated,
    output: Path,
    settings: Settings,
    locate: Locate,
) -> Report:
    return Report(
        stdout=openmetrics_text(
            status_facts(proxy, generated, output, settings, locate) for proxy in proxies
        )
    )
