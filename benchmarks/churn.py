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
Containers go through the Docker SDK on one user-defined network with a fixed subnet (a fixed
`ipv4_address` needs one); every port is published on 127.0.0.1 only and load goes only there.
With two replicas, also both recreated at once (`docker compose up --force-recreate` on a
scaled service). Figures are printed, never asserted.

    python -m benchmarks.churn [--duration 20] [--rate 20] [--image nginxgen-test/nginx:sid]
        [--replicas 1,2] [--recreate one,all] [--cases empty,taken] [--runs 5]
        [--settings 'resolver_valid=10s ...']   # Settings fields, for a before/after comparison
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import math
import sys
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docker.errors import DockerException, NotFound
from docker.types import IPAMConfig, IPAMPool

from benchmarks.docker_stack import (
    BACKEND_IMAGE,
    LOOPBACK,
    BenchmarkError,
    nginx_version,
    require_image,
)
from benchmarks.docker_stack import client as docker_client
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
    # How many of the replicas are recreated at once (`compose up --force-recreate` takes all).
    recreated: int = 1

    @property
    def name(self) -> str:
        taken = "old IP taken" if self.old_ip_taken else "old IP empty"
        which = ", all recreated" if self.recreated > 1 else ""
        replicas = f"{self.replicas} replica{'s' * (self.replicas > 1)}"
        return f"{self.strategy}, {replicas}{which}, {taken}"


@dataclass(frozen=True)
class ProxyUnderTest:
    """The proxy the load goes through: an image, its configuration files and where they go."""

    image: str
    files: dict[str, str]
    directory: str = "/etc/nginx/conf.d"
    port: int = 80
    command: list[str] | None = None


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


class Churn:
    """One scenario's containers on a network with a fixed subnet; removed in `close`."""

    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.containers: list[Any] = []
        self.network = self._network()

    def _network(self) -> Any:
        # A fixed `ipv4_address` needs a subnet given at creation: take one Docker picks, free.
        probe = self.client.networks.create(f"{self.prefix}-probe", driver="bridge")
        try:
            probe.reload()
            subnet = probe.attrs["IPAM"]["Config"][0]["Subnet"]
        finally:
            probe.remove()
        ipam = IPAMConfig(pool_configs=[IPAMPool(subnet=subnet)])
        return self.client.networks.create(f"{self.prefix}-net", driver="bridge", ipam=ipam)

    def run(
        self,
        name: str,
        image: str,
        *,
        aliases: list[str] | None = None,
        ipv4_address: str | None = None,
        command: list[str] | None = None,
        ports: dict[str, tuple[str, None]] | None = None,
        files: Path | None = None,
        directory: str = "/etc/nginx/conf.d",
    ) -> Any:
        endpoint = self.client.api.create_endpoint_config(
            aliases=aliases, ipv4_address=ipv4_address
        )
        volumes = {str(files): {"bind": directory, "mode": "ro"}} if files else None
        container = self.client.containers.create(
            image,
            command=command,
            name=f"{self.prefix}-{name}",
            hostname=name,
            network=self.network.name,
            networking_config={self.network.name: endpoint},
            ports=ports,
            volumes=volumes,
            detach=True,
        )
        # Registered before it starts, so that one failing to start is removed too.
        self.containers.append(container)
        container.start()
        container.reload()
        return container

    def address(self, container: Any) -> str:
        container.reload()
        return str(container.attrs["NetworkSettings"]["Networks"][self.network.name]["IPAddress"])

    def remove(self, container: Any) -> None:
        container.remove(force=True)
        self.containers.remove(container)

    def close(self) -> None:
        for container in reversed(self.containers):
            with contextlib.suppress(NotFound):
                container.remove(force=True)
        self.containers.clear()
        try:
            self.network.remove()
        except DockerException as error:
            print(f"benchmarks.churn: network cleanup: {error}", file=sys.stderr)


def _wait_until_serving(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    last = "nothing yet"
    while time.monotonic() < deadline:
        ok, last = _request(port)
        if ok:
            return
        time.sleep(0.2)
    raise BenchmarkError(f"127.0.0.1:{port} did not proxy within {timeout:g} s: {last}")


def nginx_proxy(image: str, config: str) -> ProxyUnderTest:
    return ProxyUnderTest(image, {"00-harness.conf": HARNESS, "nginx-ssl.conf": config})


def run_scenario(
    client: Any, proxy: ProxyUnderTest, scenario: Scenario, seconds: float, rate: float
) -> Result:
    with tempfile.TemporaryDirectory(prefix="nginxgen-churn-") as temporary:
        files = Path(temporary)
        for name, text in proxy.files.items():
            (files / name).write_text(text, encoding="utf-8")
            (files / name).chmod(0o644)
        files.chmod(0o755)
        churn = Churn(client, f"nginxgen-churn-{int(time.time() * 1000) % 10**8}")
        published = f"{proxy.port}/tcp"
        try:
            replicas = [
                churn.run(f"app-{index + 1}", BACKEND_IMAGE, aliases=[ALIAS])
                for index in range(scenario.replicas)
            ]
            front = churn.run(
                "proxy",
                proxy.image,
                command=proxy.command,
                ports={published: (LOOPBACK, None)},
                files=files,
                directory=proxy.directory,
            )
            port = int(front.attrs["NetworkSettings"]["Ports"][published][0]["HostPort"])
            _wait_until_serving(port)
            load = Load(port, rate)
            load.start()
            time.sleep(REMOVE_AT_SECONDS)
            victims = replicas[: scenario.recreated]
            old_addresses = [churn.address(victim) for victim in victims]
            removed = time.monotonic()
            for victim in victims:
                churn.remove(victim)
            # The old addresses are occupied at once, so the new containers cannot get them back.
            placeholders = [
                churn.run(
                    f"intruder-{index + 1}",
                    BACKEND_IMAGE,
                    ipv4_address=address,
                    command=None if scenario.old_ip_taken else ["sleep", "600"],
                )
                for index, address in enumerate(old_addresses)
            ]
            time.sleep(max(0.0, ABSENT_SECONDS - (time.monotonic() - removed)))
            # The service is absent until its first replica is back.
            absent = 0.0
            for index in range(len(victims)):
                churn.run(f"app-{index + 1}", BACKEND_IMAGE, aliases=[ALIAS])
                absent = absent or time.monotonic() - removed
            if not scenario.old_ip_taken:
                for placeholder in placeholders:
                    churn.remove(placeholder)
            time.sleep(max(0.0, seconds - (time.monotonic() - load.began)))
            answers = load.stop()
        finally:
            churn.close()
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


def scenarios(strategy: str, options: argparse.Namespace) -> list[Scenario]:
    """Every combination asked for; `all` only where there is more than one replica."""
    chosen = []
    for replicas in (int(count) for count in options.replicas.split(",")):
        for recreate in options.recreate.split(","):
            recreated = replicas if recreate == "all" else 1
            if recreate == "all" and replicas == 1:
                continue
            for case in options.cases.split(","):
                chosen.append(Scenario(strategy, replicas, case == "taken", recreated))
    return chosen


def progress(result: Result) -> None:
    print(
        f"  {result.scenario.name:<55} failed {result.failed:4d}  "
        f"window {result.error_window():5.2f} s  max {result.latency(1.0):5.2f} s"
        f"  wrong {result.wrong:4d}  absent {result.absent_seconds:4.2f} s",
        file=sys.stderr,
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--image", default=DEFAULT_IMAGE)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per scenario")
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second")
    parser.add_argument("--strategies", default="variable,upstream-resolve")
    parser.add_argument("--replicas", default="1,2")
    parser.add_argument("--cases", default="empty,taken", help="old IP empty and/or taken")
    parser.add_argument(
        "--recreate", default="one,all", help="one replica and/or all of them at once"
    )
    parser.add_argument("--runs", type=int, default=1, help="each scenario this many times")
    parser.add_argument(
        "--settings", default="", help="nginxgen.yaml keys, e.g. resolver_valid=10s"
    )
    options = parser.parse_args(argv)
    if not 8 <= options.duration <= 60 or not 1 <= options.rate <= 100:
        parser.error("--duration must be 8..60 and --rate 1..100 (the run stays bounded)")
    if not 1 <= options.runs <= 10:
        parser.error("--runs must be 1..10")
    try:
        client = docker_client()
        for image in (options.image, BACKEND_IMAGE):
            require_image(image)
        version = nginx_version(options.image)
        generated = configs(version, _settings_overrides(options.settings))
        results = []
        for strategy in options.strategies.split(","):
            proxy = nginx_proxy(options.image, generated[strategy])
            for scenario in scenarios(strategy, options):
                for _ in range(options.runs):
                    result = run_scenario(client, proxy, scenario, options.duration, options.rate)
                    progress(result)
                    results.append(result)
        print(report(results, options.image, version, options.rate, options.duration))
    except (BenchmarkError, DockerException) as error:
        print(f"benchmarks.churn: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
