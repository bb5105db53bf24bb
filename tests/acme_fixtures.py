"""Real ACME peers for the certificate tests and benchmark: Pebble (Let's Encrypt's test ACME
server), bind9 accepting RFC 2136 updates signed with a TSIG key, and the proxy as `nginxgen
compose` prints it (./deployed as conf.d, ./certbot/conf at /etc/letsencrypt, ./certbot/www as
the ACME webroot), carrying the test domains as network aliases so that Pebble, resolving
through Docker's DNS, reaches it for HTTP-01. certbot itself is started by the product
(`nginxgen/docker/acme.py`) from `ACME_IMAGE`, whose entrypoint is `certbot` as in the official
image. Everything is built by scripts/test-infra; everything started here is removed after.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from nginx_fixtures import DockerStack, require_image

from benchmarks.acme_peers import (
    ACME_IMAGE,
    PEBBLE_DIRECTORY,
    PEBBLE_ENTRYPOINT,
    PEBBLE_ENVIRONMENT,
    PEBBLE_READY,
    LoadLoop,
    certificate_pair,
    https_answer,
    key_pem,
    pebble_command,
    pebble_files,
    pem,
)

PROXY_IMAGE = "nginxgen-test/nginx:trixie"
DNS_ZONE = "dns.test"
TSIG_NAME = "nginxgen-test"


@dataclass
class AcmeStack:
    """A project directory laid out as `nginxgen compose` prints it, its proxy, Pebble and
    (for DNS-01) bind9, all on one user-defined network."""

    stack: DockerStack
    project: Path
    ca_file: Path = field(init=False)
    tsig_secret: str = field(
        default_factory=lambda: base64.b64encode(secrets.token_bytes(32)).decode()
    )

    def __post_init__(self) -> None:
        for directory in ("deployed", "environments", "certbot/conf", "certbot/www"):
            (self.project / directory).mkdir(parents=True, exist_ok=True)
        self.ca_file = self.project / "pebble-ca.pem"

    # ---- peers ------------------------------------------------------------------------------

    def start_proxy(self, domains: list[str]) -> Any:
        """nginx with the compose layout's mounts, reachable as each of `domains`."""
        return self._start(
            "nginx",
            PROXY_IMAGE,
            aliases=domains,
            publish=(80, 443),
            volumes={str(self.project / "deployed"): "/etc/nginx/conf.d"},
            read_only_volumes={
                str(self.project / "certbot/conf"): "/etc/letsencrypt",
                str(self.project / "certbot/www"): "/var/www/certbot",
            },
        )

    def start_web_server(self, name: str, alias: str) -> Any:
        """A plain nginx serving an empty directory, reachable as `alias`: every ACME
        challenge asked of it answers 404."""
        site = b"server { listen 80 default_server; root /var/empty; }\n"
        return self._start(
            name, PROXY_IMAGE, aliases=[alias], files={"/etc/nginx/conf.d/elsewhere.conf": site}
        )

    def start_pebble(self, dns_server: str = "127.0.0.11:53") -> Any:
        """Pebble (`benchmarks/acme_peers.py`: its configuration and certificate) resolving
        names through `dns_server`."""
        ca, files = pebble_files()
        self.ca_file.write_bytes(ca)
        container = self._start(
            "pebble",
            ACME_IMAGE,
            aliases=["pebble"],
            entrypoint=PEBBLE_ENTRYPOINT,
            command=pebble_command(dns_server),
            environment=PEBBLE_ENVIRONMENT,
            files=files,
        )
        self.wait_for_log("pebble", PEBBLE_READY)
        return container

    def _start(self, name: str, image: str, **options: Any) -> Any:
        container = self.stack.sandbox.start(
            require_image(self.stack.client, image), name, **options
        )
        self.stack.containers[name] = container
        return container

    def start_bind(self) -> str:
        """bind9, authoritative for DNS_ZONE, accepting TXT updates signed with the TSIG key;
        its address."""
        named = f"""
options {{
    directory "/var/cache/bind";
    listen-on {{ any; }};
    listen-on-v6 {{ none; }};
    allow-query {{ any; }};
    recursion no;
    dnssec-validation no;
}};
key "{TSIG_NAME}" {{ algorithm hmac-sha256; secret "{self.tsig_secret}"; }};
zone "{DNS_ZONE}" {{
    type primary;
    file "/var/lib/bind/{DNS_ZONE}.zone";
    update-policy {{ grant {TSIG_NAME} zonesub TXT; }};
}};
"""
        zone = f"""$TTL 5
@ IN SOA ns.{DNS_ZONE}. admin.{DNS_ZONE}. 1 60 60 600 5
@ IN NS ns.{DNS_ZONE}.
ns IN A 127.0.0.1
"""
        self._start(
            "bind",
            ACME_IMAGE,
            aliases=["ns"],
            entrypoint=["named"],
            command=["-g", "-c", "/etc/bind/named.conf"],
            files={
                "/etc/bind/named.conf": named.encode(),
                f"/var/lib/bind/{DNS_ZONE}.zone": zone.encode(),
            },
        )
        self.wait_for_log("bind", "running")
        return self.address("bind")

    def address(self, name: str) -> str:
        return self.stack.containers[name].address()

    def wait_for_log(self, name: str, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.stack.logs(name):
            assert time.monotonic() < deadline, f"{name}: no {text!r}: {self.stack.logs(name)}"
            time.sleep(0.2)

    # ---- the project ------------------------------------------------------------------------

    def settings(self, challenge: str = "http-01") -> None:
        lines = [
            'nginx_version: "1.26"',
            "acme:",
            "  email: ops@example.test",
            f"  directory: {PEBBLE_DIRECTORY}",
            f"  ca_certificate: {self.ca_file}",
            f"  image: {ACME_IMAGE}",
            f"  challenge: {challenge}",
        ]
        if challenge == "dns-01":
            credentials = self.project / "rfc2136.ini"
            credentials.write_text(
                f"dns_rfc2136_server = {self.address('bind')}\n"
                "dns_rfc2136_port = 53\n"
                f"dns_rfc2136_name = {TSIG_NAME}\n"
                f"dns_rfc2136_secret = {self.tsig_secret}\n"
                "dns_rfc2136_algorithm = HMAC-SHA256\n",
                encoding="utf-8",
            )
            credentials.chmod(0o600)
            lines += [
                "  dns:",
                "    plugin: rfc2136",
                f"    credentials: {credentials}",
                "    propagation_seconds: 1",
            ]
        (self.project / "nginxgen.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def environment(self, name: str, domains: list[str], tls: bool = True) -> None:
        text = (
            f"domains: [{', '.join(repr(domain) for domain in domains)}]\n"
            + ("" if tls else "tls: false\n")
            + "services:\n  app: {host: app, port: 3000}\n"
            + "routes:\n  - {path: /, service: app}\n"
        )
        (self.project / "environments" / f"{name}.yaml").write_text(text, encoding="utf-8")

    def own_certificate(self, lineage: str, names: list[str], days: int = 90) -> None:
        """A certificate placed in certbot's layout by hand (not by ACME): a site already on
        HTTPS before the test's deploy."""
        ca = certificate_pair([f"{lineage} test CA"], ca=True)
        leaf, key = certificate_pair(names, issuer=ca, days=days)
        live = self.project / "certbot/conf/live" / lineage
        live.mkdir(parents=True)
        (live / "fullchain.pem").write_bytes(pem(leaf) + pem(ca[0]))
        (live / "privkey.pem").write_bytes(key_pem(key))

    def served_certificate(self, host: str) -> x509.Certificate:
        _, certificate = https_answer(self.stack.port("nginx", 443), host)
        assert certificate is not None
        return x509.load_der_x509_certificate(certificate)

    def load(self, host: str) -> LoadLoop:
        return LoadLoop(self.stack.port("nginx", 443), host)

    def live(self) -> str:
        return (self.project / "deployed" / "nginx-ssl.conf").read_text(encoding="utf-8")


def acme_stack_for(stack: DockerStack, project: Path) -> Iterator[AcmeStack]:
    """The stack, with the backend `app` every environment routes to."""
    stack.start_service("app")
    yield AcmeStack(stack, project)
