"""certbot in a one-off container on the proxy's Docker host, so that it works wherever the
proxy runs (`DOCKER_HOST=ssh://` too): on the proxy's networks (an ACME server on them is
reachable by name), with the proxy's own certificate directory and ACME webroot mounted from
the proxy container's mounts, read-write. certbot keeps its accounts, lineages and renewal
files where it always does (`/etc/letsencrypt`), so an existing certbot setup keeps working and
`certbot renew` run by hand sees what nginxgen obtained.

The container runs the image's entrypoint, `certbot` (the official `certbot/certbot` image's),
with the arguments built here. Every Docker call has a timeout: the client's per request, and
`wait` its own. What the certbot output means (the one-line reason of a failure) is decided
here too, from certbot's own report.
"""

from __future__ import annotations

import contextlib
import io
import re
import secrets
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from docker import DockerClient
from docker.errors import APIError, DockerException, ImageNotFound
from docker.models.containers import Container
from requests.exceptions import RequestException

from nginxgen.core.facts import LETSENCRYPT
from nginxgen.docker.live import Refused
from nginxgen.docker.proxy import ProxyContainer
from nginxgen.nginx.certificates import Order
from nginxgen.nginx.sandbox import ensure_image

# Files nginxgen hands certbot (the ACME server's CA, the DNS plugin's credentials) live here
# in its container, and the renewal configuration records this credentials path.
FILES_DIRECTORY = "/nginxgen"
CA_BUNDLE = f"{FILES_DIRECTORY}/acme-ca.pem"
DNS_CREDENTIALS = f"{FILES_DIRECTORY}/dns-credentials.ini"
# An order takes seconds; DNS-01 waits for propagation first (certbot's plugins: up to minutes).
RUN_TIMEOUT_SECONDS = 600
TOOL_LABEL = "org.nginxgen.tool"
NO_DNS_NETWORKS = frozenset({"bridge", "host", "none"})
# Lines of certbot's closing advice, never the reason itself.
_ADVICE = re.compile(
    r"(Ask for help|See the logfile|Saving debug log|Hint:|Some challenges have failed"
    r"|IMPORTANT NOTES|- |Certbot failed to authenticate)"
)
_UNREACHABLE = re.compile(
    r"Connection refused|Name or service not known|Temporary failure in name resolution"
    r"|Max retries exceeded|timed out|No route to host|Failed to establish a new connection"
)


@dataclass(frozen=True)
class AcmeClient:
    """How certbot talks to the ACME server: plain values from `acme:` in nginxgen.yaml, the
    files' contents already read."""

    email: str
    directory: str
    image: str
    challenge: str  # "http-01" or "dns-01"
    ca_certificate: bytes | None = None
    dns_plugin: str | None = None
    dns_credentials: bytes | None = None
    dns_propagation_seconds: int | None = None


@dataclass(frozen=True)
class CertbotRun:
    ok: bool
    reason: str  # one line: what certbot reported, or "" when it succeeded
    output: str


def certonly_arguments(client: AcmeClient, order: Order) -> list[str]:
    """`certbot certonly` for one order: the lineage by name, every domain, the challenge."""
    arguments = [
        "certonly",
        "--non-interactive",
        "--agree-tos",
        "--no-eff-email",
        "--email",
        client.email,
        "--server",
        client.directory,
        "--cert-name",
        order.name,
        "--keep-until-expiring",
        *_authenticator(client, order.webroot),
    ]
    for domain in order.domains:
        arguments += ["-d", domain]
    return arguments


def renew_arguments(order: Order) -> list[str]:
    """`certbot renew` of one lineage, now: the caller decided it is due (or forced). Without a
    terminal certbot sleeps up to 8 minutes first unless told not to."""
    return [
        "renew",
        "--non-interactive",
        "--no-random-sleep-on-renew",
        "--force-renewal",
        "--cert-name",
        order.name,
    ]


def _authenticator(client: AcmeClient, webroot: str | None) -> list[str]:
    if client.challenge == "dns-01":
        plugin = client.dns_plugin or ""
        arguments = [
            "--authenticator",
            f"dns-{plugin}",
            f"--dns-{plugin}-credentials",
            DNS_CREDENTIALS,
        ]
        if client.dns_propagation_seconds is not None:
            arguments += [
                f"--dns-{plugin}-propagation-seconds",
                str(client.dns_propagation_seconds),
            ]
        return arguments
    if webroot is None:
        raise Refused("http-01 needs the environment's ACME webroot (tls.acme_webroot)")
    return ["--webroot", "--webroot-path", webroot]


def failure_reason(output: str, directory: str) -> str:
    """certbot's reason for a failed run, in one line: the ACME server's problem per domain
    (challenge answered 404, name not pointing here, rate limit), an unreachable server, or
    certbot's last word."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for reason in (
        _server_problems(lines),
        _unreachable(lines, directory),
        _unexpected_error(lines),
    ):
        if reason is not None:
            return reason
    meaningful = [line for line in lines if not _ADVICE.match(line)]
    return _shorten(meaningful[-1]) if meaningful else "certbot failed without a message"


def _server_problems(lines: Sequence[str]) -> str | None:
    """The ACME server's problem per domain: certbot prints `Domain:`, `Type:`, `Detail:`."""
    problems = []
    domain = kind = ""
    for line in lines:
        key, _, value = line.partition(":")
        if key == "Domain":
            domain = value.strip()
        elif key == "Type":
            kind = value.strip()
        elif key == "Detail":
            problems.append(f"{domain}: {kind}: {value.strip()}" if domain else value.strip())
            domain = kind = ""
    return "; ".join(problems) if problems else None


def _unreachable(lines: Sequence[str], directory: str) -> str | None:
    shown = next((line for line in reversed(lines) if _UNREACHABLE.search(line)), None)
    if shown is None:
        return None
    return f"the ACME server {directory} is unreachable: {_shorten(shown)}"


def _unexpected_error(lines: Sequence[str]) -> str | None:
    """The line after certbot's "An unexpected error occurred", which names the error."""
    for index, line in enumerate(lines):
        if line.startswith("An unexpected error occurred") and index + 1 < len(lines):
            return _shorten(lines[index + 1])
    return None


def _shorten(line: str, limit: int = 300) -> str:
    return line if len(line) <= limit else f"{line[: limit - 3]}..."


def _bindings(proxy: ProxyContainer, destinations: Sequence[str]) -> dict[str, dict[str, str]]:
    """The proxy's own mounts at `destinations`, read-write, for the certbot container: a
    volume by its name, a bind mount by its path on the Docker host. `Refused` when one is not
    a mount of the proxy (certbot's files would not reach nginx)."""
    proxy.container.reload()
    mounts: list[dict[str, Any]] = proxy.container.attrs.get("Mounts", [])
    bindings: dict[str, dict[str, str]] = {}
    for destination in destinations:
        found = next((mount for mount in mounts if mount.get("Destination") == destination), None)
        if found is None:
            raise Refused(
                f"{destination} is not a mount of the proxy {proxy.name}, so what certbot "
                f"writes there would not reach nginx; mount it as `nginxgen compose` prints "
                "(./certbot/conf and ./certbot/www), recreate the container, then deploy"
            )
        source = found.get("Name") if found.get("Type") == "volume" else found.get("Source")
        bindings[str(source)] = {"bind": destination, "mode": "rw"}
    return bindings


def _archive(files: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        directory = tarfile.TarInfo(FILES_DIRECTORY.lstrip("/"))
        directory.type = tarfile.DIRTYPE
        directory.mode = 0o700
        archive.addfile(directory)
        for path, data in files.items():
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size = len(data)
            info.mode = 0o600
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class Certbot:
    """certbot runs for one proxy: each in its own container, removed afterwards."""

    def __init__(
        self,
        docker: DockerClient,
        proxy: ProxyContainer,
        client: AcmeClient,
        *,
        pull: bool = True,
    ) -> None:
        self.docker = docker
        self.proxy = proxy
        self.client = client
        self.pull = pull

    def check(self, orders: Sequence[Order]) -> None:
        """`Refused` now, before anything changes, when an order could not be run: the proxy
        lacks a mount certbot needs, or an HTTP-01 order has no webroot."""
        for order in orders:
            if self.client.challenge == "http-01" and order.webroot is None:
                raise Refused(
                    f"environment {order.environment}: http-01 needs its ACME webroot "
                    "(tls.acme_webroot is false); set it, or use challenge: dns-01"
                )
            _bindings(self.proxy, self._destinations(order))

    def _destinations(self, order: Order) -> list[str]:
        webroot = order.webroot if self.client.challenge == "http-01" else None
        return [LETSENCRYPT] + ([webroot] if webroot else [])

    def obtain(self, order: Order) -> CertbotRun:
        return self._run(certonly_arguments(self.client, order), order)

    def renew(self, order: Order) -> CertbotRun:
        return self._run(renew_arguments(order), order)

    def _run(self, arguments: list[str], order: Order) -> CertbotRun:
        bindings = _bindings(self.proxy, self._destinations(order))
        ensure_image(self.docker, self.client.image, pull=self.pull)
        networks = [name for name in self.proxy.networks() if name not in NO_DNS_NETWORKS]
        files = {}
        environment = {}
        if self.client.ca_certificate is not None:
            files[CA_BUNDLE] = self.client.ca_certificate
            # certbot talks to the ACME server through requests, which trusts this bundle.
            environment["REQUESTS_CA_BUNDLE"] = CA_BUNDLE
        if self.client.challenge == "dns-01" and self.client.dns_credentials is not None:
            files[DNS_CREDENTIALS] = self.client.dns_credentials
        try:
            container = self.docker.containers.create(
                self.client.image,
                arguments,
                name=f"nginxgen-certbot-{secrets.token_hex(4)}",
                labels={TOOL_LABEL: "certbot", "org.nginxgen.proxy": self.proxy.name},
                volumes=bindings,
                environment=environment,
                network=networks[0] if networks else None,
            )
        except (ImageNotFound, APIError) as error:
            return CertbotRun(False, f"cannot start certbot ({self.client.image}): {error}", "")
        try:
            return self._start(container, networks[1:], files)
        finally:
            # Already gone is fine: nothing of it is left to clean up.
            with contextlib.suppress(DockerException):
                container.remove(force=True)

    def _start(
        self, container: Container, more_networks: Sequence[str], files: Mapping[str, bytes]
    ) -> CertbotRun:
        for network in more_networks:
            self.docker.networks.get(network).connect(container)
        if files:
            container.put_archive("/", _archive(files))
        container.start()
        try:
            result = container.wait(timeout=RUN_TIMEOUT_SECONDS)
        except RequestException:
            container.kill()
            output = container.logs().decode("utf-8", "replace")
            return CertbotRun(
                False, f"certbot did not finish within {RUN_TIMEOUT_SECONDS} s", output
            )
        output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
        if result.get("StatusCode") == 0:
            return CertbotRun(True, "", output)
        return CertbotRun(False, failure_reason(output, self.client.directory), output)
