"""Recreates under load: what clients see while a service container is replaced on a new IP.

Steady load (default 20 requests/s) goes through the generated proxy while one container of the
service is removed and, about a second later, started again. The new container gets a new IP
address, as a deploy often gives it: a placeholder briefly occupies the old one. Two cases:

- `old IP empty`: the placeholder (not listening) leaves once the new container is up, so the
  old address belongs to nobody — connects to it hang until the connect timeout;
- `old IP taken`: the placeholder is itself a web server that keeps the old address, standing
  for a container of another service (or environment) that got it. What it answers is counted as
  `wrong`: answered by a container other than the service's.

For each strategy (variable, upstream-resolve) with one replica and with two (two containers
behind one network alias, as `docker compose --scale` gives them; the first is recreated).
Containers come from `benchmarks.docker_stack`, on one user-defined network with a fixed subnet
(a fixed `ipv4_address` needs one); every port is published on 127.0.0.1 only and load goes
only there.
Figures are printed, never asserted.

    python -m benchmarks.churn [--duration 20] [--rate 20] [--image nginxgen-test/nginx:sid]
        [--settings 'resolver_valid=10s ...']   # Settings fields, for a before/after comparison
"""

from __future__ import annotations

import argparse
import http.client
import math
import sys
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from docker.errors import DockerException

from benchmarks.docker_stack import (
    BACKEND_IMAGE,
    LOOPBACK,
    BenchmarkError,
    Stack,
    nginx_version,
    require_image,
)
from nginxgen.generation.models import Settings
from nginxgen.generation.pipeline import generate

HOST = "churn.example.com"
DEFAULT_IMAGE = "nginxgen-test/nginx:sid"
ALIAS = "app"
SERVICE_PORT = 3000
# Generous, so that a hung request shows as the time it hung, not as a client error.
CLIENT_TIMEOUT_SECONDS = 30.0
REMOVE_AT_SECONDS = 4.0
# How long the service is really absent: the gap of a `docker compose up` recreate (0.7-1.6 s).
ABSENT_SECONDS = 1.0
# Kept beside every variant: the access log would measure Docker's log pipeline.
HARNESS = "access_log off;\n"

ENVIRONMENT = f"""\
domains: [{HOST}]
tls: false
services:
  app: {{host: {ALIAS}, port: {SERVICE_PORT}}}
routes:
  - {{path: /, service: app}}
"""


@dataclass(frozen=True)
class Scenario:
    strategy: str
    replicas: int
    old_ip_taken: bool

    @property
    def name(self) -> str:
        taken = "old IP taken" if self.old_ip_taken else "old IP empty"
        return f"{self.strategy}, {self.replicas} replica{'s' * (self.replicas > 1)}, {taken}"


@dataclass(frozen=True)
class Answer:
    started: float  # seconds since the load began
    seconds: float
    ok: bool
    backend: str  # the hostname that answered, or what went wrong


@dataclass
class Result:
    scenario: Scenario
    answers: list[Answer]
    service_hostnames: set[str]
    absent_seconds: float

    @property
    def failed(self) -> int:
        return sum(1 for answer in self.answers if not answer.ok)

    @property
    def wrong(self) -> int:
        return sum(
            1
            for answer in self.answers
            if answer.ok and answer.backend not in self.service_hostnames
        )

    def error_window(self) -> float:
        """The longest run of consecutive failed requests (in start order): from the start of
        its first to the end of its last."""
        longest = 0.0
        first: Answer | None = None
        end = 0.0
        for answer in sorted(self.answers, key=lambda answer: answer.started):
            if answer.ok:
                first = None
                continue
            if first is None:
                first, end = answer, 0.0
            end = max(end, answer.started + answer.seconds)
            longest = max(longest, end - first.started)
        return longest

    def latency(self, quantile: float) -> float:
        ordered = sorted(answer.seconds for answer in self.answers)
        return ordered[min(len(ordered) - 1, math.ceil(quantile * len(ordered)) - 1)]


def _request(port: int) -> tuple[bool, str]:
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=CLIENT_TIMEOUT_SECONDS)
    try:
        connection.request("GET", "/", headers={"Host": HOST, "Connection": "close"})
        response = connection.getresponse()
        body = response.read().decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as error:
        return False, type(error).__name__
    finally:
        connection.close()
    if response.status != 200 or not body.startswith("backend="):
        return False, f"HTTP {response.status}"
    return True, body.split()[0].removeprefix("backend=")


@dataclass
class Load:
    """Requests at a steady rate, each on its own connection, whatever the earlier ones do."""

    port: int
    rate: float
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    began: float = 0.0

    def start(self) -> None:
        self.began = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> list[Answer]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return sorted(self.answers, key=lambda answer: answer.started)

    def _one(self) -> None:
        started = time.monotonic()
        ok, backend = _request(self.port)
        self.answers.append(Answer(started - self.began, time.monotonic() - started, ok, backend))

    def _run(self) -> None:
        interval = 1.0 / self.rate
        pending: list[Future[None]] = []
        # Enough workers for every request of a whole client timeout: none waits for a slot.
        workers = int(self.rate * CLIENT_TIMEOUT_SECONDS) + 8
        with ThreadPoolExecutor(max_workers=workers) as pool:
            tick = time.monotonic()
            while not self._stop.is_set():
                pending.append(pool.submit(self._one))
                tick += interval
                self._stop.wait(max(0.0, tick - time.monotonic()))
            for future in pending:
                future.result()


def _wait_until_serving(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    last = "nothing yet"
    while time.monotonic() < deadline:
        ok, last = _request(port)
        if ok:
            return
        time.sleep(0.2)
    raise BenchmarkError(f"127.0.0.1:{port} did not proxy within {timeout:g} s: {last}")


def run_scenario(
    image: str, config: str, scenario: Scenario, seconds: float, rate: float
) -> Result:
    with tempfile.TemporaryDirectory(prefix="nginxgen-churn-") as temporary:
        stack = Stack(Path(temporary), prefix="churn", fixed_addresses=True)
        try:
            replicas = [
                stack.start_backend(ALIAS, f"app-{index + 1}") for index in range(scenario.replicas)
            ]
            files = {"00-harness.conf": HARNESS, "nginx-ssl.conf": config}
            port = stack.start_nginx("nginx", image, files)
            _wait_until_serving(port)
            load = Load(port, rate)
            load.start()
            time.sleep(REMOVE_AT_SECONDS)
            victim = replicas[0]
            old_address = stack.address(victim)
            removed = time.monotonic()
            stack.remove(victim)
            # The old address is occupied at once, so the new container cannot get it back.
            placeholder = stack.start_backend(
                None,
                "intruder",
                address=old_address,
                command=None if scenario.old_ip_taken else ["sleep", "600"],
            )
            time.sleep(max(0.0, ABSENT_SECONDS - (time.monotonic() - removed)))
            stack.start_backend(ALIAS, "app-1")
            absent = time.monotonic() - removed
            if not scenario.old_ip_taken:
                stack.remove(placeholder)
            time.sleep(max(0.0, seconds - (time.monotonic() - load.began)))
            answers = load.stop()
        finally:
            stack.close()
    hostnames = {f"app-{index + 1}" for index in range(scenario.replicas)}
    return Result(scenario, answers, hostnames, absent)


def configs(version: str, settings: dict[str, str]) -> dict[str, str]:
    found = {}
    with tempfile.TemporaryDirectory(prefix="nginxgen-churn-config-") as temporary:
        directory = Path(temporary)
        (directory / "churn.yaml").write_text(ENVIRONMENT, encoding="utf-8")
        for strategy in ("variable", "upstream-resolve"):
            chosen = Settings.model_validate(
                {"nginx_version": version, "strategy": strategy, **settings}
            )
            found[strategy] = generate(directory, chosen).text
    return found


def report(results: list[Result], image: str, version: str, rate: float, seconds: float) -> str:
    lines = [
        f"churn: {image} (nginx {version}), {rate:g} requests/s for {seconds:g} s per scenario, "
        f"the first replica removed at {REMOVE_AT_SECONDS:g} s and started again on a new IP "
        f"{ABSENT_SECONDS:g} s later",
        "",
        "| scenario | requests | failed | longest error window s | p99 s | max s "
        "| answered by another container | service absent s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in results:
        lines.append(
            f"| {result.scenario.name} | {len(result.answers)} | {result.failed} | "
            f"{result.error_window():.2f} | {result.latency(0.99):.2f} | "
            f"{result.latency(1.0):.2f} | {result.wrong} | {result.absent_seconds:.2f} |"
        )
    return "\n".join(lines)


def _settings_overrides(text: str) -> dict[str, str]:
    pairs = [item.split("=", 1) for item in text.split()]
    if any(len(pair) != 2 for pair in pairs):
        raise BenchmarkError(f"--settings takes key=value pairs, not {text!r}")
    return dict(pairs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--image", default=DEFAULT_IMAGE)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per scenario")
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second")
    parser.add_argument("--strategies", default="variable,upstream-resolve")
    parser.add_argument("--replicas", default="1,2")
    parser.add_argument("--cases", default="empty,taken", help="old IP empty and/or taken")
    parser.add_argument(
        "--settings", default="", help="nginxgen.yaml keys, e.g. resolver_valid=10s"
    )
    options = parser.parse_args(argv)
    if not 8 <= options.duration <= 60 or not 1 <= options.rate <= 100:
        parser.error("--duration must be 8..60 and --rate 1..100 (the run stays bounded)")
    try:
        for image in (options.image, BACKEND_IMAGE):
            require_image(image)
        version = nginx_version(options.image)
        generated = configs(version, _settings_overrides(options.settings))
        results = []
        for strategy in options.strategies.split(","):
            for replicas in (int(count) for count in options.replicas.split(",")):
                for case in options.cases.split(","):
                    scenario = Scenario(strategy, replicas, old_ip_taken=case == "taken")
                    result = run_scenario(
                        options.image,
                        generated[strategy],
                        scenario,
                        options.duration,
                        options.rate,
                    )
                    print(
                        f"  {scenario.name:<45} failed {result.failed:4d}  "
                        f"window {result.error_window():5.2f} s  max {result.latency(1.0):5.2f} s"
                        f"  wrong {result.wrong:4d}",
                        file=sys.stderr,
                        flush=True,
                    )
                    results.append(result)
        print(report(results, options.image, version, options.rate, options.duration))
    except (BenchmarkError, DockerException) as error:
        print(f"benchmarks.churn: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
