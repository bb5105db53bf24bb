"""A deploy that first obtains the certificates the proxy lacks, in three steps: (1) a
candidate in which the environments still without a certificate are served on port 80 only
(the ACME webroot and a 503 "certificate pending" page), deployed like any candidate; (2)
certbot for each of them; (3) the full candidate. Every other site keeps answering throughout,
since each step is an ordinary deploy (tested in place, swapped, reloaded, verified).

When an order fails, the proxy is put back to exactly what it served before, and each failed
environment gets one line with certbot's reason. Deploying a candidate and putting the
previous config back are the caller's (the deploy algorithm), handed in as functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from docker.errors import DockerException

from nginxgen.docker.acme import Certbot, CertbotRun
from nginxgen.docker.live import Refused
from nginxgen.docker.proxy import ProxyContainer
from nginxgen.nginx.certificates import Order, issued, uncovered_domains

Say = Callable[..., None]


def missing_orders(proxy: ProxyContainer, orders: Sequence[Order]) -> list[Order]:
    """The orders whose certificate or key the proxy does not have, or whose certificate does
    not cover every name (a domain was added): those the next deploy obtains first."""
    missing = []
    for order in orders:
        try:
            certificate = proxy.read_file(order.certificate)
            proxy.read_file(order.key)
            names = issued(certificate).names
        except (FileNotFoundError, IsADirectoryError, ValueError):
            missing.append(order)
            continue
        if uncovered_domains(names, order.domains):
            missing.append(order)
    return missing


def deploy_with_certificates(
    orders: Sequence[Order],
    certbot: Certbot,
    pending: str,
    full: str,
    deploy_candidate: Callable[[str], bool],
    restore_previous: Callable[[], None],
    say: Say,
) -> bool:
    """Pending candidate, certbot per order, full candidate; True when the full one is live.
    On any failure the previous config is restored and the reasons said."""
    names = ", ".join(f"{order.environment} ({', '.join(order.domains)})" for order in orders)
    say(f"certificates to obtain first: {names}")
    certbot.check(orders)
    if not deploy_candidate(pending):
        say("deploy refused: the candidate serving them as 'certificate pending' did not deploy")
        return False
    failures = []
    for order in orders:
        say(f"{order.environment}: certbot ({certbot.client.challenge}) for {order.name} ...")
        try:
            run = certbot.obtain(order)
        except (Refused, DockerException) as error:
            run = CertbotRun(False, f"certbot could not run: {error}", "")
        if run.ok:
            say(f"{order.environment}: certificate issued ({order.certificate})")
        else:
            failures.append(f"{order.environment}: certificate not issued: {run.reason}")
    if failures:
        say(*failures)
        restore_previous()
        say("deploy failed: no certificate for the environment(s) above; nothing else changed")
        return False
    if deploy_candidate(full):
        return True
    restore_previous()
    return False
