"""Certificates obtained and renewed for real: Pebble as the ACME server, certbot in its own
container started by nginxgen on the proxy's Docker host, bind9 for DNS-01, the proxy as
`nginxgen compose` prints it, and a load loop on another HTTPS site that must lose nothing."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from acme_fixtures import AcmeStack, acme_stack_for
from cryptography import x509
from nginx_fixtures import DockerStack, http_get, wait_for
from ssh_fixtures import SshServer, docker_over_ssh, sshd
from typer.testing import CliRunner

from nginxgen.cli import app
from nginxgen.commands.status import status
from nginxgen.core.formats import StatusFormat
from nginxgen.docker.selection import ByContainer

pytestmark = pytest.mark.nginx
__all__ = ["sshd"]
CERTIFICATES_DOC = Path(__file__).resolve().parent.parent / "docs" / "certificates.md"


@pytest.fixture
def acme(
    docker_stack: DockerStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[AcmeStack]:
    monkeypatch.chdir(tmp_path)
    yield from acme_stack_for(docker_stack, tmp_path)


def cli(acme: AcmeStack, *arguments: str, proxy: bool = True) -> tuple[int, str]:
    selection = ["--container", acme.stack.wrapped("nginx").name] if proxy else []
    result = CliRunner().invoke(app, [*arguments, *selection])
    return result.exit_code, result.output


class PortEighty:
    """What `host` answers on port 80, sampled in a thread: each new answer once, in order."""

    def __init__(self, acme: AcmeStack, host: str) -> None:
        self.port = acme.stack.port("nginx", 80)
        self.host = host
        self.answers: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> list[str]:
        self._thread.start()
        return self.answers

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._sample()  # the answer once the deploy is over

    def _sample(self) -> None:
        try:
            response = http_get(self.port, self.host)
            body = response.body.split(":")[0] if response.status == 503 else ""
            answer = f"{response.status} {body}".strip()
        except OSError as error:
            answer = type(error).__name__  # the default server closes the connection (444)
        if not self.answers or self.answers[-1] != answer:
            self.answers.append(answer)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            time.sleep(0.05)


def deploy_other_site(acme: AcmeStack) -> None:
    """other.test already on HTTPS, with a certificate put there by hand."""
    acme.own_certificate("other.test", ["other.test"])
    acme.environment("other", ["other.test"])
    code, output = cli(acme, "deploy")
    assert code == 0, output


def test_one_deploy_obtains_a_new_environments_certificate_and_renew_replaces_it(
    acme: AcmeStack,
) -> None:
    acme.start_pebble()
    acme.start_proxy(["other.test", "shop.test", "www.shop.test"])
    acme.settings()
    deploy_other_site(acme)

    acme.environment("shop", ["shop.test", "www.shop.test"])
    code, output = cli(acme, "certs", proxy=False)
    assert code == 0, output
    assert (
        "shop: /etc/letsencrypt/live/shop.test/fullchain.pem: info: the next `nginxgen deploy`"
        in output
    )
    code, output = cli(acme, "deploy", "--dry-run")
    assert code == 0, output
    assert "would obtain first: shop" in output and "dry run: nothing changed" in output
    with acme.load("other.test") as load, PortEighty(acme, "shop.test") as answers:
        code, output = cli(acme, "deploy")
    assert code == 0, output
    assert "certificates to obtain first: shop (shop.test, www.shop.test)" in output
    # While certbot ran, shop.test answered "certificate pending" on port 80, and it never
    # redirected to HTTPS before its certificate was there: the redirect only came after.
    assert "503 certificate pending" in answers, answers
    first_pending = answers.index("503 certificate pending")
    assert not [answer for answer in answers[:first_pending] if answer.startswith("301")]
    assert answers[-1].startswith("301"), answers
    assert "shop: certificate issued" in output
    assert load.sent > 10 and load.failures == [], (load.sent, load.failures)
    issued = acme.served_certificate("shop.test")
    assert "Pebble" in issued.issuer.rfc4514_string()
    assert http_get(acme.stack.port("nginx", 443), "www.shop.test", tls=True).status == 200
    assert "pending" not in acme.live()

    code, output = cli(acme, "certs", "renew")
    assert code == 0 and "nothing due" in output, output
    with acme.load("shop.test") as load:
        code, output = cli(acme, "certs", "renew", "--force")
    assert code == 0, output
    assert "shop: renewed shop.test" in output
    assert load.sent > 10 and load.failures == [], (load.sent, load.failures)
    renewed = acme.served_certificate("shop.test")
    assert renewed.serial_number != issued.serial_number

    # The cron line of docs/certificates.md, run as cron would (sh, its own directory), with
    # the test's project, container and log file.
    line = next(
        text
        for text in CERTIFICATES_DOC.read_text(encoding="utf-8").splitlines()
        if text.endswith("nginxgen-renew.log 2>&1")
    )
    command = line.split(maxsplit=5)[5]
    container = acme.stack.wrapped("nginx").name
    log = acme.project / "renew.log"
    command = (
        command.replace("/srv/proxy", str(acme.project))
        .replace("certs renew", f"certs renew --container {container}")
        .replace("/var/log/nginxgen-renew.log", str(log))
    )
    path = f"{Path(sys.executable).parent}:{os.environ['PATH']}"
    cron = subprocess.run(["sh", "-c", command], env={**os.environ, "PATH": path}, timeout=300)
    assert cron.returncode == 0, log.read_text(encoding="utf-8")
    assert "nothing due" in log.read_text(encoding="utf-8")

    report = status(ByContainer(container), None, None, StatusFormat.text)
    assert "shop: issuer" in report.stdout and "renewal configuration" in report.stdout, (
        report.stdout
    )
    near = renewed.not_valid_after_utc - datetime.timedelta(days=10)
    report = status(ByContainer(container), None, None, StatusFormat.text, now=near)
    assert "warning: certificate: shop:" in report.stdout, report.stdout


def test_a_wildcard_is_obtained_through_dns_01_and_bind9(acme: AcmeStack) -> None:
    bind = acme.start_bind()
    acme.start_pebble(dns_server=f"{bind}:53")
    acme.start_proxy(["other.test"])
    acme.settings("dns-01")
    deploy_other_site(acme)
    acme.environment("wild", ["*.dns.test"])
    with acme.load("other.test") as load:
        code, output = cli(acme, "deploy")
    assert code == 0, output
    assert "wild: certbot (dns-01) for dns.test" in output
    assert load.sent > 10 and load.failures == [], (load.sent, load.failures)
    served = acme.served_certificate("app.dns.test")
    assert "Pebble" in served.issuer.rfc4514_string()
    names = served.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["*.dns.test"]


def test_failed_issuance_exits_1_with_the_reason_and_leaves_the_live_config(
    acme: AcmeStack,
) -> None:
    acme.start_pebble()
    acme.start_proxy(["other.test"])
    # wrong.test resolves to another web server, which answers the challenge with 404.
    acme.start_web_server("elsewhere", "wrong.test")
    acme.settings()
    deploy_other_site(acme)
    before = acme.live()

    acme.environment("wrong", ["wrong.test"])
    code, output = cli(acme, "deploy")
    assert code == 1, output
    assert "wrong: certificate not issued: wrong.test: unauthorized:" in output, output
    assert "404" in output
    assert acme.live() == before
    acme.environment("wrong", ["nowhere.test"])
    code, output = cli(acme, "deploy")
    assert code == 1, output
    assert "wrong: certificate not issued: nowhere.test:" in output, output
    assert acme.live() == before

    acme.environment("wrong", ["shop.test"])
    acme.stack.remove("pebble")
    code, output = cli(acme, "deploy")
    assert code == 1, output
    assert (
        "wrong: certificate not issued: the ACME server https://pebble:14000/dir is unreachable"
        in (output)
    )
    assert acme.live() == before
    proxy = acme.stack.wrapped("nginx")
    proxy.restart(timeout=10)
    wait_for(
        "the proxy after a restart",
        lambda: http_get(acme.stack.port("nginx", 443), "other.test", tls=True).status,
        lambda status: status == 200,
        timeout=20,
    )


def test_renewal_through_docker_host_ssh(acme: AcmeStack, sshd: SshServer) -> None:
    """`certs renew` on a remote proxy: certbot's container is started through the same SSH
    connection to the proxy's Docker host (issue 21: renewal through `DOCKER_HOST=ssh://`)."""
    acme.start_pebble()
    acme.start_proxy(["shop.test"])
    acme.settings()
    acme.environment("shop", ["shop.test"])
    code, output = cli(acme, "deploy")
    assert code == 0, output
    issued = acme.served_certificate("shop.test")
    before = sshd.logins()
    with docker_over_ssh(sshd), acme.load("shop.test") as load:
        code, output = cli(acme, "certs", "renew", "--force")
    assert code == 0, output
    assert "shop: renewed shop.test" in output
    assert sshd.logins() == before + 1  # one SSH connection for the whole command
    assert load.sent > 5 and load.failures == [], (load.sent, load.failures)
    assert acme.served_certificate("shop.test").serial_number != issued.serial_number
