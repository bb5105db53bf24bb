"""Certificates by ACME: how long from `nginxgen deploy` to HTTPS for a new domain, and what
clients of another site see meanwhile; the same for `nginxgen certs renew --force`.

The peers are real: Pebble (Let's Encrypt's ACME test server, validating HTTP-01 on port 80 and
resolving names through Docker's DNS), certbot in the container nginxgen starts itself
(`nginxgen-test/acme:bookworm`, entrypoint certbot), and the proxy as `nginxgen compose` prints
it (./deployed, ./certbot/conf, ./certbot/www), carrying the test domains as network aliases.
A steady HTTPS load (back to back, one client) runs against an already served site during
issuance, and against the renewed site during renewal. Everything goes through the Docker SDK
on one user-defined network; ports are published on 127.0.0.1 only. Figures are printed, never
asserted.

    python -m benchmarks.certificates [--rounds 3] [--image nginxgen-test/nginx:trixie]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

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
from benchmarks.docker_stack import BenchmarkError, Stack, require_image
from benchmarks.docker_stack import client as docker_client
from nginxgen.commands.certs import renew
from nginxgen.commands.deploy import deploy
from nginxgen.docker.selection import ByContainer

DEFAULT_IMAGE = "nginxgen-test/nginx:trixie"
STEADY = "steady.test"


class AcmeBench:
    """The project, Pebble and the proxy on one network."""

    def __init__(self, work: Path, image: str, domains: list[str]) -> None:
        self.work = work
        self.stack = Stack(work / "docker")
        self.project = work / "project"
        for directory in ("deployed", "environments", "certbot/conf", "certbot/www"):
            (self.project / directory).mkdir(parents=True)
        self.stack.start_backend("app")
        self._pebble()
        self.proxy = self._proxy(image, [STEADY, *domains])
        ca = certificate_pair(["steady test CA"], ca=True)
        leaf, key = certificate_pair([STEADY], issuer=ca)
        live = self.project / "certbot/conf/live" / STEADY
        live.mkdir(parents=True)
        (live / "fullchain.pem").write_bytes(pem(leaf) + pem(ca[0]))
        (live / "privkey.pem").write_bytes(key_pem(key))
        self.environment("steady", STEADY)

    def _pebble(self) -> None:
        ca, files = pebble_files()
        (self.project / "pebble-ca.pem").write_bytes(ca)
        container = self.stack.start(
            "pebble",
            ACME_IMAGE,
            entrypoint=PEBBLE_ENTRYPOINT,
            aliases=["pebble"],
            command=pebble_command("127.0.0.11:53"),
            environment=PEBBLE_ENVIRONMENT,
            files=files,
        )
        deadline = time.monotonic() + 30
        while PEBBLE_READY not in container.logs():
            if time.monotonic() > deadline:
                raise BenchmarkError(f"Pebble did not start: {container.logs()!r}")
            time.sleep(0.2)
        (self.project / "nginxgen.yaml").write_text(
            'nginx_version: "1.26"\nacme:\n  email: ops@example.test\n'
            f"  directory: {PEBBLE_DIRECTORY}\n"
            f"  ca_certificate: {self.project / 'pebble-ca.pem'}\n  image: {ACME_IMAGE}\n",
            encoding="utf-8",
        )

    def _proxy(self, image: str, domains: list[str]) -> str:
        container = self.stack.start(
            "proxy",
            image,
            aliases=domains,
            volumes={str(self.project / "deployed"): "/etc/nginx/conf.d"},
            read_only_volumes={
                str(self.project / "certbot/conf"): "/etc/letsencrypt",
                str(self.project / "certbot/www"): "/var/www/certbot",
            },
            publish=(80, 443),
        )
        self.https_port = container.port(443)
        return container.name

    def environment(self, name: str, domain: str) -> None:
        (self.project / "environments" / f"{name}.yaml").write_text(
            f"domains: [{domain}]\nservices:\n  app: {{host: app, port: 3000}}\n"
            "routes:\n  - {path: /, service: app}\n",
            encoding="utf-8",
        )

    def deploy(self) -> tuple[int, str]:
        report = deploy(ByContainer(self.proxy), False, 10, None, None)
        return report.exit_code, report.stdout

    def close(self) -> None:
        self.stack.close()


def run(rounds: int, image: str) -> int:
    require_image(ACME_IMAGE)
    require_image(image)
    domains = [f"new{index}.test" for index in range(rounds)]
    issuance: list[tuple[float, int, int]] = []
    renewals: list[tuple[float, int, int]] = []
    with tempfile.TemporaryDirectory(prefix="nginxgen-bench-acme-") as work:
        bench = AcmeBench(Path(work), image, domains)
        here = Path.cwd()
        try:
            os.chdir(bench.project)
            code, output = bench.deploy()
            if code:
                raise BenchmarkError(f"first deploy failed:\n{output}")
            for domain in domains:
                bench.environment(domain.split(".")[0], domain)
                with LoadLoop(bench.https_port, STEADY) as load:
                    started = time.monotonic()
                    code, output = bench.deploy()
                    if code or https_answer(bench.https_port, domain)[0] != 200:
                        raise BenchmarkError(f"deploy of {domain} failed:\n{output}")
                    issuance.append((time.monotonic() - started, load.sent, len(load.failures)))
                with LoadLoop(bench.https_port, domain) as load:
                    started = time.monotonic()
                    report = renew(True, ByContainer(bench.proxy), None, None)
                    if report.exit_code:
                        raise BenchmarkError(f"renewal failed:\n{report.stdout}")
                    renewals.append((time.monotonic() - started, load.sent, len(load.failures)))
        finally:
            os.chdir(here)
            bench.close()
    _print("deploy → HTTPS for a new domain (HTTP-01, Pebble)", issuance, STEADY)
    _print("certs renew --force (every certificate so far)", renewals, "the renewed site")
    return 0


def _print(title: str, results: list[tuple[float, int, int]], loaded: str) -> None:
    seconds = [result[0] for result in results]
    sent = sum(result[1] for result in results)
    failed = sum(result[2] for result in results)
    print(f"{title}: {len(results)} run(s)")
    print(
        f"  seconds: median {statistics.median(seconds):.1f}, min {min(seconds):.1f}, "
        f"max {max(seconds):.1f}"
    )
    print(f"  requests to {loaded} meanwhile: {sent} sent, {failed} failed\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--image", default=DEFAULT_IMAGE)
    options = parser.parse_args(argv)
    try:
        return run(options.rounds, options.image)
    except BenchmarkError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 1
    finally:
        with contextlib.suppress(Exception):
            docker_client().close()


if __name__ == "__main__":
    sys.exit(main())
