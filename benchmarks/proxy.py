"""Proxy throughput and latency of the generated config under each strategy, against a ceiling.

The ceiling is a hand-written static `upstream` with `keepalive` (fast, but not startup-safe:
nginx resolves `app` once, at startup, and refuses to start without it). Every variant runs the
same nginx image against the same backend container, in the same run; rounds are interleaved
(the order rotates each round) so drift on this shared machine hits every variant alike. wrk
loads each nginx through a port published on 127.0.0.1. Figures are printed, never asserted.

    python -m benchmarks.proxy [--rounds 3] [--duration 5] [--image nginxgen-test/nginx:sid]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.docker_stack import (
    BACKEND_IMAGE,
    LOOPBACK,
    BenchmarkError,
    Stack,
    get,
    nginx_version,
    require_image,
)
from nginxgen.generation.models import Settings, supports_upstream_resolve
from nginxgen.generation.pipeline import generate

HOST = "bench.example.com"
DEFAULT_IMAGE = "nginxgen-test/nginx:sid"
CONNECTIONS = 16
THREADS = 2

ENVIRONMENT = f"""\
domains: [{HOST}]
tls: false
services:
  app: {{host: app, port: 3000}}
routes:
  - {{path: /, service: app}}
"""

# The same server as the generated one (headers, security headers), but a static upstream.
CEILING = f"""\
upstream bench_static {{
    server app:3000;
    keepalive 16;
}}

server {{
    listen 80;
    server_name {HOST};
    server_tokens off;

    add_header X-Content-Type-Options "nosniff" always;
    add_header Referrer-Policy "strict-origin-when-cross-origin" always;
    add_header X-Frame-Options "SAMEORIGIN" always;

    location / {{
        proxy_pass http://bench_static;
        proxy_http_version 1.1;
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header Connection "";
    }}
}}
"""

# Beside every variant alike: the access log would go to the container's stdout (Debian's
# image links it there) and measure Docker's log pipeline instead of the proxy.
HARNESS = "access_log off;\n"
TW_REUSE = {"net.ipv4.tcp_tw_reuse": "1"}

BALANCE_ENVIRONMENT = f"""\
domains: [{HOST}]
tls: false
services:
  pair: {{hosts: [app-a, app-b], port: 3000}}
  pool: {{host: app-pool, port: 3000}}
routes:
  - {{path: /pair/, service: pair}}
  - {{path: /pool/, service: pool}}
"""
BALANCE_ENVIRONMENT_VARIABLE = f"""\
domains: [{HOST}]
tls: false
services:
  pool: {{host: app-pool, port: 3000}}
routes:
  - {{path: /pool/, service: pool}}
"""
BALANCE_REQUESTS = 60


@dataclass(frozen=True)
class Variant:
    name: str
    config: str
    sysctls: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    failed: int  # non-2xx/3xx answers and socket errors
    p50_ms: float
    p99_ms: float

    @property
    def ok_per_second(self) -> float:
        """Successful requests per second: a fast 502 is no throughput."""
        return max(self.requests - self.failed, 0) / self.seconds


@dataclass
class Measured:
    variant: Variant
    container: str = ""
    port: int = 0
    rounds: list[WrkResult] = field(default_factory=list)
    time_wait: list[int] = field(default_factory=list)


def generated_config(directory: Path, version: str, strategy: str) -> str:
    (directory / "bench.yaml").write_text(ENVIRONMENT, encoding="utf-8")
    settings = Settings.model_validate({"nginx_version": version, "strategy": strategy})
    return generate(directory, settings).text


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _duration_ms(text: str) -> float:
    match = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text)
    if not match:
        raise BenchmarkError(f"wrk printed a latency {text!r} this script cannot read")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    summary = re.search(r"(\d+) requests in ([0-9.]+)(us|ms|s|m)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    if not (summary and p50 and p99):
        raise BenchmarkError(f"cannot read wrk's output:\n{output}")
    failed = 0
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        failed += int(non_2xx.group(1))
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if errors:
        failed += sum(int(count) for count in errors.groups())
    return WrkResult(
        requests=int(summary.group(1)),
        seconds=_duration_ms(summary.group(2) + summary.group(3)) / 1000.0,
        failed=failed,
        p50_ms=_duration_ms(p50.group(1)),
        p99_ms=_duration_ms(p99.group(1)),
    )


def wrk(port: int, seconds: int) -> WrkResult:
    command = [
        "wrk",
        f"-t{THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{seconds}s",
        "--latency",
        "-H",
        f"Host: {HOST}",
        f"http://{LOOPBACK}:{port}/",
    ]
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=seconds + 60, check=False
        )
    except FileNotFoundError:
        raise BenchmarkError("wrk is not installed (apt-get install wrk)") from None
    if completed.returncode != 0:
        raise BenchmarkError(f"wrk failed: {completed.stderr.strip()}")
    return parse_wrk(completed.stdout)


def variants(work: Path, version: str) -> list[Variant]:
    found = [Variant("ceiling (static upstream + keepalive)", CEILING)]
    if supports_upstream_resolve(version):
        directory = work / "upstream-resolve"
        directory.mkdir()
        found.append(
            Variant("upstream-resolve", generated_config(directory, version, "upstream-resolve"))
        )
    directory = work / "variable"
    directory.mkdir()
    variable = generated_config(directory, version, "variable")
    found.append(Variant("variable", variable))
    found.append(Variant("variable + tcp_tw_reuse=1", variable, TW_REUSE))
    return found


def measure(stack: Stack, image: str, version: str, rounds: int, seconds: int) -> list[Measured]:
    stack.start_backend("app")
    measured = [Measured(variant) for variant in variants(stack.work, version)]
    for index, entry in enumerate(measured):
        files = {"00-bench-harness.conf": HARNESS, "nginx-ssl.conf": entry.variant.config}
        entry.port = stack.start_nginx(f"nginx-{index}", image, files, entry.variant.sysctls)
        entry.container = stack.containers[-1]
    for entry in measured:
        stack.wait_until_serving(entry.port, HOST)
        wrk(entry.port, 1)  # warm-up: workers, resolver cache, keepalive pools
    for round_index in range(rounds):
        shift = round_index % len(measured)
        for entry in measured[shift:] + measured[:shift]:
            result = wrk(entry.port, seconds)
            entry.rounds.append(result)
            entry.time_wait.append(stack.time_wait(entry.container))
            print(
                f"  round {round_index + 1} {entry.variant.name:<40} "
                f"{result.ok_per_second:8.0f} req/s  p99 {result.p99_ms:7.2f} ms  "
                f"failed {result.failed:6d}  TIME_WAIT {entry.time_wait[-1]:6d}",
                file=sys.stderr,
                flush=True,
            )
    return measured


def report(measured: list[Measured], image: str, version: str, rounds: int, seconds: int) -> str:
    ceiling = measured[0]
    lines = [
        f"proxy: {image} (nginx {version}), backend {BACKEND_IMAGE}, wrk -t{THREADS} "
        f"-c{CONNECTIONS} -d{seconds}s, {rounds} interleaved rounds",
        "",
        "| variant | req/s (median) | req/s per round | p99 ms (median) | req/s ÷ ceiling "
        "| p99 ÷ ceiling | failed | TIME_WAIT after rounds |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for entry in measured:
        rates = [result.ok_per_second for result in entry.rounds]
        p99s = [result.p99_ms for result in entry.rounds]
        # Ratios per round, against the ceiling of the same round, then the median.
        rate_ratio = statistics.median(
            mine.ok_per_second / theirs.ok_per_second
            for mine, theirs in zip(entry.rounds, ceiling.rounds, strict=True)
        )
        p99_ratio = statistics.median(
            mine.p99_ms / theirs.p99_ms
            for mine, theirs in zip(entry.rounds, ceiling.rounds, strict=True)
        )
        lines.append(
            f"| {entry.variant.name} | {statistics.median(rates):,.0f} | "
            + " / ".join(f"{rate:,.0f}" for rate in rates)
            + f" | {statistics.median(p99s):.2f} | {rate_ratio:.2f} | {p99_ratio:.2f} | "
            f"{sum(result.failed for result in entry.rounds)} | "
            + " / ".join(str(count) for count in entry.time_wait)
            + " |"
        )
    return "\n".join(lines)


def balance(stack: Stack, image: str, version: str) -> str:
    """Which backends answer through each strategy when a service has several replicas."""
    for alias, hostname in (
        ("app-a", "app-a"),
        ("app-b", "app-b"),
        ("app-pool", "pool-1"),
        ("app-pool", "pool-2"),
    ):
        stack.start_backend(alias, hostname)
    checks: list[tuple[str, str, str]] = []
    if supports_upstream_resolve(version):
        checks += [
            ("upstream-resolve", BALANCE_ENVIRONMENT, "/pair/"),
            ("upstream-resolve", BALANCE_ENVIRONMENT, "/pool/"),
        ]
    checks.append(("variable", BALANCE_ENVIRONMENT_VARIABLE, "/pool/"))
    lines = [
        f"load balancing: {image} (nginx {version}), {BALANCE_REQUESTS} requests per route",
        "",
        "| strategy | service | backends that answered |",
        "| --- | --- | --- |",
    ]
    started: dict[str, int] = {}
    for strategy, environment, path in checks:
        if strategy not in started:
            directory = stack.work / f"environment-{strategy}"
            directory.mkdir()
            (directory / "bench.yaml").write_text(environment, encoding="utf-8")
            settings = Settings.model_validate({"nginx_version": version, "strategy": strategy})
            config = generate(directory, settings).text
            port = stack.start_nginx(f"balance-{strategy}", image, {"nginx-ssl.conf": config})
            started[strategy] = port
        port = started[strategy]
        stack.wait_until_serving(port, HOST, path)
        answered: Counter[str] = Counter()
        for _ in range(BALANCE_REQUESTS):
            status, body = get(port, HOST, path)
            name = body.split()[0].removeprefix("backend=") if status == 200 else f"HTTP {status}"
            answered[name] += 1
        service = "hosts: [app-a, app-b]" if path == "/pair/" else "app-pool (2 addresses)"
        spread = ", ".join(f"{name} {count}" for name, count in sorted(answered.items()))
        lines.append(f"| {strategy} | {service} | {spread} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--image", default=DEFAULT_IMAGE)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    options = parser.parse_args(argv)
    if not 1 <= options.rounds <= 10 or not 1 <= options.duration <= 30:
        parser.error("--rounds must be 1..10 and --duration 1..30 (the run stays bounded)")
    try:
        require_image(options.image)
        require_image(BACKEND_IMAGE)
        version = nginx_version(options.image)
        with tempfile.TemporaryDirectory(prefix="nginxgen-bench-") as temporary:
            stack = Stack(Path(temporary))
            try:
                measured = measure(stack, options.image, version, options.rounds, options.duration)
                print(report(measured, options.image, version, options.rounds, options.duration))
            finally:
                stack.close()
            stack = Stack(Path(temporary) / "balance")
            try:
                print()
                print(balance(stack, options.image, version))
            finally:
                stack.close()
    except BenchmarkError as error:
        print(f"benchmarks.proxy: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
