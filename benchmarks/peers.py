"""nginxgen's output against the proxies users pick instead: Caddy and HAProxy, same load.

nginx 1.30 with nginxgen's output (upstream-resolve), Caddy 2.6 and HAProxy 2.6 (Debian's
packages, `scripts/test-infra` builds the images), each configured the startup-safe way its own
documentation shows (HAProxy: a `resolvers` section and `init-addr last,libc,none`; Caddy: a
`reverse_proxy` whose upstream Go resolves at every dial), in front of the same backend. The
load generator runs in a container on the same network (wrk for HTTP/1.1, h2load for HTTP/2),
HTTPS with SNI (`bench.example.com` mapped to the proxy's address in the client's /etc/hosts):

- keepalive: 16 connections, each reused;
- new TLS connection per request: 16 connections, `Connection: close`, a full handshake each;
- HTTP/2: h2load, 16 connections with 10 streams each.

Rounds are interleaved (the order of the peers rotates), and each ratio is taken within a round,
then the median: drift on a shared machine hits every peer alike. Then the recreate scenarios of
`benchmarks.churn` through each peer (plain HTTP): requests lost while a backend container is
replaced on a new address, one replica and two. Figures are printed, never asserted.

    python -m benchmarks.peers [--rounds 3] [--duration 5] [--key ecdsa|rsa] [--churn-duration 15]
        [--variants]   # nginx variants of the TLS settings, measured beside the peers
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from docker.errors import DockerException

from benchmarks import churn
from benchmarks.docker_stack import (
    BACKEND_IMAGE,
    BenchmarkError,
    Stack,
    client,
    nginx_version,
    require_image,
)
from benchmarks.proxy import HARNESS, WrkResult, parse_wrk
from nginxgen.generation.models import Settings
from nginxgen.generation.pipeline import generate
from nginxgen.nginx.placeholder_certs import self_signed_certificate

HOST = "bench.example.com"
NGINX_IMAGE = "nginxgen-test/nginx:sid"
HAPROXY_IMAGE = "nginxgen-test/haproxy:bookworm"
CADDY_IMAGE = "nginxgen-test/caddy:bookworm"
WRK_IMAGE = "nginxgen-test/wrk:bookworm"
H2LOAD_IMAGE = "nginxgen-test/h2load:bookworm"
CONNECTIONS = 16
STREAMS = 10
CERTIFICATES = "/etc/ssl/bench"
NGINX_FILE = "nginx-ssl.conf"
# The port spelt out: the client images have no /etc/services to look `https` up in.
URL = f"https://{HOST}:443/"

ENVIRONMENT = f"""\
domains: [{HOST}]
tls:
  certificate: {CERTIFICATES}/cert.pem
  certificate_key: {CERTIFICATES}/key.pem
services:
  app: {{host: app, port: 3000}}
routes:
  - {{path: /, service: app}}
"""

# Mozilla's intermediate profile, as its generator writes it for HAProxy 2.6.
HAPROXY_TLS = """\
    ssl-default-bind-ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:\
ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:\
ECDHE-RSA-CHACHA20-POLY1305
    ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:\
TLS_CHACHA20_POLY1305_SHA256
    ssl-default-bind-options prefer-client-ciphers no-sslv3 no-tlsv10 no-tlsv11 no-tls-tickets
"""


def haproxy_config(host: str, tls: bool) -> str:
    """Startup-safe as HAProxy's documentation (section 5.3) shows: the name is resolved through
    Docker's DNS while running, `init-addr last,libc,none` lets it start without the name, and
    `server-template` gives the slots a scaled service's replicas fill."""
    bind = f"bind :443 ssl crt {CERTIFICATES}/combined.pem alpn h2,http/1.1" if tls else "bind :80"
    return f"""\
global
    maxconn 4096
{HAPROXY_TLS}
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 60s
    retries 2
    option redispatch
    retry-on conn-failure empty-response response-timeout 502 503
    default-server init-addr last,libc,none

resolvers docker
    nameserver dns 127.0.0.11:53
    hold valid 2s
    timeout resolve 1s
    accepted_payload_size 8192

frontend front
    {bind}
    http-request deny unless {{ req.hdr(host),field(1,:) -m str {host} }}
    option forwardfor
    http-request set-header X-Forwarded-Proto {"https" if tls else "http"}
    http-response set-header Strict-Transport-Security "max-age=63072000"
    http-response set-header X-Content-Type-Options nosniff
    default_backend app

backend app
    http-reuse safe
    server-template app 2 app:3000 check inter 1s resolvers docker
"""


def caddy_config(host: str, tls: bool) -> str:
    """Caddy's reverse_proxy dials `app:3000` by name, resolved at every new connection, so it
    starts without the service; `lb_try_duration` makes it retry a failed dial (its docs:
    retries are off by default)."""
    site = f"https://{host}" if tls else f"http://{host}"
    certificate = f"tls {CERTIFICATES}/cert.pem {CERTIFICATES}/key.pem" if tls else ""
    return f"""\
{{
    admin off
    auto_https disable_redirects
    servers {{
        protocols h1 h2
    }}
}}

{site} {{
    {certificate}
    header Strict-Transport-Security "max-age=63072000"
    header X-Content-Type-Options nosniff
    reverse_proxy app:3000 {{
        lb_try_duration 5s
        fail_duration 5s
    }}
}}
"""


@dataclass(frozen=True)
class Peer:
    name: str
    image: str
    directory: str
    files: dict[str, str]
    command: list[str] | None = None


def certificate_files(key_type: str) -> dict[str, str]:
    """A self-signed certificate for HOST: ECDSA P-256 or RSA 2048, as PEM files."""
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey = (
        ec.generate_private_key(ec.SECP256R1())
        if key_type == "ecdsa"
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    cert = self_signed_certificate(key, [HOST]).decode()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {"cert.pem": cert, "key.pem": private, "combined.pem": cert + private}


def nginxgen_config(work: Path, version: str, environment: str) -> str:
    work.mkdir(parents=True, exist_ok=True)
    (work / "bench.yaml").write_text(environment, encoding="utf-8")
    settings = Settings.model_validate({"nginx_version": version, "strategy": "upstream-resolve"})
    return generate(work, settings).text


# nginx variants of the TLS path, measured beside the peers with `--variants`: each is the
# generated text with one change. What pays goes into the generated configuration.
VARIANTS: dict[str, Callable[[str], str]] = {
    "nginxgen + keepalive_requests 10000": lambda text: text.replace(
        "ssl_session_tickets off;", "ssl_session_tickets off;\n    keepalive_requests 10000;"
    ),
    "nginxgen + keepalive_requests 10000 + keepalive 64": lambda text: text.replace(
        "ssl_session_tickets off;", "ssl_session_tickets off;\n    keepalive_requests 10000;"
    ).replace("keepalive 16;", "keepalive 64;"),
    "nginxgen + keepalive_requests 10000 + keepalive 128": lambda text: text.replace(
        "ssl_session_tickets off;", "ssl_session_tickets off;\n    keepalive_requests 10000;"
    ).replace("keepalive 16;", "keepalive 128;"),
    "nginxgen + session tickets": lambda text: text.replace(
        "ssl_session_tickets off;", "ssl_session_tickets on;"
    ),
    "nginxgen + ssl_buffer_size 4k": lambda text: text.replace(
        "ssl_session_tickets off;", "ssl_session_tickets off;\n    ssl_buffer_size 4k;"
    ),
    "nginxgen + ssl_ecdh_curve X25519:prime256v1": lambda text: text.replace(
        "ssl_session_tickets off;",
        "ssl_session_tickets off;\n    ssl_ecdh_curve X25519:prime256v1:secp384r1;",
    ),
}


def peers(work: Path, version: str, variants: str) -> list[Peer]:
    generated = nginxgen_config(work / "nginxgen", version, ENVIRONMENT)
    nginx = Peer(
        "nginxgen (nginx)",
        NGINX_IMAGE,
        "/etc/nginx/conf.d",
        {"00-harness.conf": HARNESS, NGINX_FILE: generated},
    )
    found = [
        nginx,
        Peer(
            "HAProxy",
            HAPROXY_IMAGE,
            "/usr/local/etc/haproxy",
            {"haproxy.cfg": haproxy_config(HOST, tls=True)},
        ),
        Peer("Caddy", CADDY_IMAGE, "/etc/caddy", {"Caddyfile": caddy_config(HOST, tls=True)}),
    ]
    words = variants.split(",") if variants else []
    for name, change in VARIANTS.items():
        if "all" in words or any(word in name for word in words):
            found.append(
                Peer(
                    name,
                    NGINX_IMAGE,
                    nginx.directory,
                    {**nginx.files, NGINX_FILE: change(generated)},
                )
            )
    return found


@dataclass
class Running:
    peer: Peer
    address: str = ""
    results: dict[str, list[WrkResult]] = field(default_factory=dict)


def start_peer(stack: Stack, peer: Peer, index: int, certificates: dict[str, str]) -> str:
    """The peer's container on the stack's network, its files and the certificates bind-mounted;
    returns its address. Registered in the stack, which removes it."""
    directory = stack.work / f"peer-{index}"
    (directory / "config").mkdir(parents=True)
    (directory / "certs").mkdir()
    for name, text in peer.files.items():
        (directory / "config" / name).write_text(text, encoding="utf-8")
    for name, text in certificates.items():
        (directory / "certs" / name).write_text(text, encoding="utf-8")
    name = f"{stack.prefix}-peer-{index}"
    stack.containers.append(name)
    container = client().containers.run(
        peer.image,
        command=peer.command,
        name=name,
        network=stack.network,
        volumes={
            str(directory / "config"): {"bind": peer.directory, "mode": "ro"},
            str(directory / "certs"): {"bind": CERTIFICATES, "mode": "ro"},
        },
        detach=True,
    )
    container.reload()
    return str(container.attrs["NetworkSettings"]["Networks"][stack.network]["IPAddress"])


def run_client(stack: Stack, image: str, command: list[str], address: str, seconds: int) -> str:
    """One load run from a container on the same network; HOST resolves to the peer."""
    name = f"{stack.prefix}-client"
    stack.containers.append(name)
    container: Any = client().containers.create(
        image, command=command, name=name, network=stack.network, extra_hosts={HOST: address}
    )
    try:
        container.start()
        outcome = container.wait(timeout=seconds + 60)
        output = bytes(container.logs()).decode("utf-8", "replace")
        if outcome.get("StatusCode") != 0:
            raise BenchmarkError(f"{command[0]} failed: {output.strip()[-500:]}")
        return output
    finally:
        container.remove(force=True)
        stack.containers.remove(name)


def parse_h2load(output: str) -> WrkResult:
    rate = re.search(r"finished in ([0-9.]+)(ms|s), ([0-9.]+) req/s", output)
    counts = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded", output)
    latency = re.search(r"time for request:\s+(\S+)\s+(\S+)\s+(\S+)", output)
    if not (rate and counts and latency):
        raise BenchmarkError(f"cannot read h2load's output:\n{output}")
    seconds = float(rate.group(1)) / (1000.0 if rate.group(2) == "ms" else 1.0)
    done, succeeded = int(counts.group(2)), int(counts.group(3))
    mean = latency.group(3)
    mean_ms = float(re.sub(r"[a-z]+$", "", mean)) * (0.001 if mean.endswith("us") else 1.0)
    if mean.endswith("s") and not mean.endswith(("ms", "us")):
        mean_ms *= 1000.0
    # h2load reports no percentiles over all requests: the mean stands in for both.
    return WrkResult(done, seconds, done - succeeded, mean_ms, mean_ms)


LOADS: dict[str, tuple[str, Callable[[int], list[str]]]] = {
    "keepalive, 16 connections": (
        WRK_IMAGE,
        lambda seconds: [
            "wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", URL
        ],
    ),
    "a new TLS connection per request": (
        WRK_IMAGE,
        lambda seconds: [
            "wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency",
            "-H", "Connection: close", URL,
        ],
    ),
    "HTTP/2, 16 connections × 10 streams": (
        H2LOAD_IMAGE,
        lambda seconds: [
            "h2load", "-t2", f"-c{CONNECTIONS}", f"-m{STREAMS}", f"-D{seconds}",
            "--warm-up-time=1", URL,
        ],
    ),
}  # fmt: skip


def measure(
    stack: Stack, running: list[Running], loads: list[str], rounds: int, seconds: int
) -> None:
    for entry in running:  # warm-up: workers, resolver cache, keepalive pools
        run_client(stack, WRK_IMAGE, LOADS["keepalive, 16 connections"][1](1), entry.address, 1)
    for round_index in range(rounds):
        shift = round_index % len(running)
        for entry in running[shift:] + running[:shift]:
            for load in loads:
                image, command = LOADS[load]
                output = run_client(stack, image, command(seconds), entry.address, seconds)
                result = parse_h2load(output) if image == H2LOAD_IMAGE else parse_wrk(output)
                entry.results.setdefault(load, []).append(result)
                print(
                    f"  round {round_index + 1} {entry.peer.name:<44} {load:<36} "
                    f"{result.ok_per_second:8.0f} req/s  failed {result.failed}",
                    file=sys.stderr,
                    flush=True,
                )


def report(
    running: list[Running], loads: list[str], rounds: int, seconds: int, key_type: str
) -> str:
    names = " | ".join(entry.peer.name for entry in running)
    lines = [
        f"peers: {seconds} s per load, {rounds} interleaved rounds, {key_type.upper()} "
        f"certificate; req/s (median of the rounds; failed requests over all rounds)",
        "",
        f"| load | {names} | nginxgen ÷ best peer |",
        "| --- | " + " | ".join("---:" for _ in running) + " | ---: |",
    ]
    ours = running[0]
    others = [entry for entry in running if entry.peer.image != NGINX_IMAGE]
    for load in loads:
        cells = []
        for entry in running:
            results = entry.results[load]
            median = statistics.median(result.ok_per_second for result in results)
            failed = sum(result.failed for result in results)
            cells.append(f"{median:,.0f}" + (f" ({failed} failed)" if failed else ""))
        # Per round: ours over the best peer of that round, then the median of the rounds.
        ratio = statistics.median(
            ours.results[load][index].ok_per_second
            / max(entry.results[load][index].ok_per_second for entry in others)
            for index in range(rounds)
        )
        lines.append(f"| {load} | " + " | ".join(cells) + f" | **{ratio:.2f}** |")
    return "\n".join(lines)


def churn_report(version: str, seconds: float, rate: float) -> str:
    """The recreate scenarios of benchmarks.churn through each peer (plain HTTP)."""
    with tempfile.TemporaryDirectory(prefix="nginxgen-peers-churn-") as temporary:
        generated = nginxgen_config(Path(temporary), version, churn.ENVIRONMENT)
    proxies = {
        "nginxgen (nginx)": churn.nginx_proxy(NGINX_IMAGE, generated),
        "HAProxy": churn.ProxyUnderTest(
            HAPROXY_IMAGE,
            {"haproxy.cfg": haproxy_config(churn.HOST, tls=False)},
            "/usr/local/etc/haproxy",
        ),
        "Caddy": churn.ProxyUnderTest(
            CADDY_IMAGE, {"Caddyfile": caddy_config(churn.HOST, tls=False)}, "/etc/caddy"
        ),
    }
    scenarios = {
        "1 replica": (1, 1),
        "2 replicas, one recreated": (2, 1),
        "2 replicas, all recreated": (2, 2),
    }
    lines = [
        f"recreates through each peer: {rate:g} requests/s for {seconds:g} s, the replica(s) "
        f"removed at {churn.REMOVE_AT_SECONDS:g} s and back on new addresses "
        f"{churn.ABSENT_SECONDS:g} s later (old addresses empty); failed requests, longest error "
        "window s, service absent s",
        "",
        "| scenario | " + " | ".join(proxies) + " |",
        "| --- | " + " | ".join("---" for _ in proxies) + " |",
    ]
    docker = client()
    for label, (replicas, recreated) in scenarios.items():
        cells = []
        for name, proxy in proxies.items():
            scenario = churn.Scenario(name, replicas, False, recreated)
            result = churn.run_scenario(docker, proxy, scenario, seconds, rate)
            churn.progress(result)
            cells.append(
                f"{result.failed} failed, {result.error_window():.2f} s "
                f"(absent {result.absent_seconds:.2f} s)"
            )
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5, help="seconds per load run")
    parser.add_argument("--key", choices=("ecdsa", "rsa"), default="ecdsa")
    parser.add_argument(
        "--variants", default="", help="nginx variants too: all, or words in their names"
    )
    parser.add_argument("--loads", default="keepalive,new,HTTP/2", help="words in the loads' names")
    parser.add_argument("--churn-duration", type=float, default=15.0, help="0: no recreates")
    parser.add_argument("--rate", type=float, default=20.0, help="recreates: requests/s")
    options = parser.parse_args(argv)
    if not 1 <= options.rounds <= 10 or not 1 <= options.duration <= 30:
        parser.error("--rounds must be 1..10 and --duration 1..30 (the run stays bounded)")
    if options.churn_duration and not 8 <= options.churn_duration <= 60:
        parser.error("--churn-duration must be 0 or 8..60")
    try:
        for image in (NGINX_IMAGE, HAPROXY_IMAGE, CADDY_IMAGE, WRK_IMAGE, H2LOAD_IMAGE):
            require_image(image)
        require_image(BACKEND_IMAGE)
        version = nginx_version(NGINX_IMAGE)
        certificates = certificate_files(options.key)
        loads = [load for load in LOADS if any(word in load for word in options.loads.split(","))]
        with tempfile.TemporaryDirectory(prefix="nginxgen-peers-") as temporary:
            stack = Stack(Path(temporary))
            try:
                stack.start_backend("app")
                running = [
                    Running(peer, start_peer(stack, peer, index, certificates))
                    for index, peer in enumerate(peers(stack.work, version, options.variants))
                ]
                measure(stack, running, loads, options.rounds, options.duration)
                print(report(running, loads, options.rounds, options.duration, options.key))
            finally:
                stack.close()
        if options.churn_duration:
            print()
            print(churn_report(version, options.churn_duration, options.rate))
    except (BenchmarkError, DockerException) as error:
        print(f"benchmarks.peers: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
