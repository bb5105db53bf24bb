"""Docker Swarm: nginx in front of a service's tasks while they are scaled and replaced.

On a single-node swarm (initialised here unless the daemon is already in one, left afterwards
only if initialised here), nginx runs nginxgen's `platform: swarm` output (`server
tasks.<service>:3000 resolve`) as a service with a host-mode port; the backend is a service of
3 tasks. One client sends requests one after another, a new connection each, while

- the backend is scaled 2 → 4 → 1 → 3 (which tasks answer, after each step), and
- the backend gets rolling updates (`force_update`, `order: start-first`, parallelism 1),

and every failed request (not 200, or no answer within 3 s) is counted. Figures are printed,
never asserted. Everything is built with the Docker SDK; load goes to 127.0.0.1 only.

    python -m benchmarks.swarm [--updates 3] [--image nginxgen-test/nginx:official-layout]

With `--nodes 3`, the proxy itself on a real three-node swarm (Docker-in-Docker, the tests'
`tests/swarm_cluster.py`), deployed from `nginxgen stack`, behind HAProxy with the configuration
in docs/swarm.md, 15 requests a second through HAProxy (a new connection each) and 15 a second
to node0 directly, while `nginxgen deploy --swarm-service` rolls out config changes (`--changes
N`), refuses a config whose certificate is missing, and has Swarm roll back a config that never
becomes healthy. Figures: time to converge on every node, failed requests through HAProxy, how
long node0 refused when asked directly.

    python -m benchmarks.swarm --nodes 3 [--changes 2]
"""

from __future__ import annotations

import argparse
import http.client
import secrets
import socket
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

from docker.errors import DockerException
from docker.types import EndpointSpec, Mount, ServiceMode, UpdateConfig

from benchmarks.docker_stack import (
    BACKEND_IMAGE,
    LOOPBACK,
    BenchmarkError,
    require_image,
)
from benchmarks.docker_stack import client as docker_client
from nginxgen.generation.models import Settings
from nginxgen.generation.pipeline import generate

DEFAULT_IMAGE = "nginxgen-test/nginx:official-layout"  # nginx 1.30, no Debian default site
DOMAIN = "bench.example.test"
ENVIRONMENT = """\
domains: [{domain}]
tls: false
services:
  app: {{host: {host}, port: 3000}}
routes:
  - {{path: /, service: app}}
"""
T = TypeVar("T")


def wait(what: str, probe: Callable[[], T], done: Callable[[T], bool], timeout: float) -> T:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = probe()
            if done(result):
                return result
        except (OSError, http.client.HTTPException):
            pass
        if time.monotonic() > deadline:
            raise BenchmarkError(f"{what}: not within {timeout:g} s")
        time.sleep(0.2)


def get(port: int) -> tuple[int, str]:
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=3)
    try:
        connection.request("GET", "/", headers={"Host": DOMAIN, "Connection": "close"})
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


@dataclass
class Load:
    """One client, one request after another, until stopped."""

    port: int
    statuses: Counter[str] = field(default_factory=Counter)
    recent: deque[str] = field(default_factory=lambda: deque(maxlen=200))
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                status, body = get(self.port)
            except (OSError, http.client.HTTPException) as error:
                self.statuses[type(error).__name__] += 1
                continue
            self.statuses[str(status)] += 1
            if status == 200:
                self.recent.append(body.split()[0].removeprefix("backend="))

    @property
    def total(self) -> int:
        return sum(self.statuses.values())

    @property
    def failed(self) -> int:
        return self.total - self.statuses["200"]

    @contextmanager
    def running(self) -> Iterator[Load]:
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(timeout=10)


@dataclass
class SwarmBench:
    client: Any
    backend: Any
    port: int

    def tasks(self) -> set[str]:
        self.backend.reload()
        return {
            task["Status"]["ContainerStatus"]["ContainerID"][:12]
            for task in self.backend.tasks(filters={"desired-state": "running"})
            if task["Status"]["State"] == "running"
        }

    def scale(self, replicas: int) -> None:
        """Only the replica count changes (docker-py's `scale` rebuilds the container spec with
        its own defaults, which Swarm takes for a new spec: it would replace every task)."""
        self.backend.reload()
        spec = self.backend.attrs["Spec"]
        self.client.api.update_service(
            self.backend.id,
            self.backend.version,
            task_template=spec["TaskTemplate"],
            name=spec["Name"],
            labels=spec.get("Labels"),
            mode={"Replicated": {"Replicas": replicas}},
            update_config=spec.get("UpdateConfig"),
            rollback_config=spec.get("RollbackConfig"),
            endpoint_spec=spec.get("EndpointSpec"),
        )

    def settled(self, replicas: int, load: Load) -> set[str]:
        """Until `replicas` tasks run and the load's latest answers came from exactly them."""
        tasks = wait(f"{replicas} tasks", self.tasks, lambda found: len(found) == replicas, 90)
        wait(
            "nginx answering from every task",
            lambda: set(list(load.recent)[-6 * replicas :]),
            lambda seen: seen == tasks,
            60,
        )
        return tasks

    def update(self) -> None:
        self.backend.reload()
        self.backend.update(force_update=True, fetch_current_spec=True)

        def state() -> str:
            self.backend.reload()
            return str(self.backend.attrs.get("UpdateStatus", {}).get("State"))

        wait("the rolling update", state, lambda found: found == "completed", 180)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("", 0))
        return int(probe.getsockname()[1])


@contextmanager
def swarm(client: Any) -> Iterator[None]:
    state = client.info()["Swarm"]["LocalNodeState"]
    if state not in {"inactive", "active"}:
        raise BenchmarkError(f"the Docker daemon's swarm is {state!r}")
    if state == "inactive":
        client.swarm.init(advertise_addr=LOOPBACK)
    try:
        yield
    finally:
        if state == "inactive":
            client.swarm.leave(force=True)


def measure(client: Any, image: str, directory: Path, updates: int) -> str:
    suffix = secrets.token_hex(3)
    backend_name = f"nginxgen-bench-app-{suffix}"
    (directory / "environments").mkdir()
    (directory / "environments" / "bench.yaml").write_text(
        ENVIRONMENT.format(domain=DOMAIN, host=backend_name), encoding="utf-8"
    )
    settings = Settings(platform="swarm", nginx_version="1.30", resolver_valid="1s")
    (directory / "conf.d").mkdir()
    (directory / "conf.d" / "proxy.conf").write_text(
        generate(directory / "environments", settings).text, encoding="utf-8"
    )
    port = free_port()
    created: list[Any] = []
    network = client.networks.create(f"nginxgen-bench-{suffix}", driver="overlay", attachable=True)
    try:
        created.append(
            client.services.create(
                image,
                name=f"nginxgen-bench-proxy-{suffix}",
                networks=[network.name],
                # The API wants integers; types-docker's stub says strings.
                endpoint_spec=EndpointSpec(ports=cast(Any, {port: (80, "tcp", "host")})),
                mounts=[
                    Mount("/etc/nginx/conf.d", str(directory / "conf.d"), "bind", read_only=True)
                ],
            )
        )
        backend = client.services.create(
            BACKEND_IMAGE,
            name=backend_name,
            networks=[network.name],
            mode=ServiceMode("replicated", replicas=3),
            update_config=UpdateConfig(parallelism=1, order="start-first"),
        )
        created.append(backend)
        bench = SwarmBench(client, backend, port)
        wait("the proxy", lambda: get(port)[0], lambda status: status == 200, 90)
        lines = [
            f"swarm: nginx ({image}) → `server tasks.<service>:3000 resolve` "
            "(resolver_valid 1s), one client, a new connection per request",
            "",
            "| step | tasks | answers over the last 60 requests | failed requests |",
            "| --- | ---: | --- | ---: |",
        ]
        with Load(port).running() as load:
            bench.settled(3, load)
            for replicas in (2, 4, 1, 3):
                before = load.failed
                bench.scale(replicas)
                tasks = bench.settled(replicas, load)
                time.sleep(2)
                spread = Counter(list(load.recent)[-60:])
                shares = " / ".join(str(spread[name]) for name in sorted(tasks))
                lines.append(
                    f"| scale to {replicas} | {len(tasks)} | {shares} | {load.failed - before} |"
                )
        lines += [
            "",
            "| rolling update (start-first, parallelism 1) | seconds | requests | failed |",
            "| --- | ---: | ---: | ---: |",
        ]
        totals = [0, 0]
        for index in range(updates):
            with Load(port).running() as load:
                bench.settled(3, load)
                started = time.monotonic()
                bench.update()
                bench.settled(3, load)
                elapsed = time.monotonic() - started
            totals[0] += load.total
            totals[1] += load.failed
            lines.append(f"| update {index + 1} | {elapsed:.1f} | {load.total} | {load.failed} |")
        lines.append(f"| all | | {totals[0]} | {totals[1]} |")
        return "\n".join(lines)
    finally:
        for service in created:
            service.remove()
        for _ in range(30):
            try:
                network.remove()
                break
            except DockerException:
                time.sleep(1)


TESTS = Path(__file__).resolve().parent.parent / "tests"
RATE = 15.0


def measure_nodes(changes: int) -> str:
    """The multi-node figures (see the module's docstring)."""
    # The three-node swarm is built by the module its tests use; one definition of it.
    sys.path.insert(0, str(TESTS))
    from swarm_cluster import (  # noqa: PLC0415
        DOMAIN,
        MISSING_CERTIFICATE,
        PROXY_IMAGE,
        SERVICE,
        TARGET,
        SteadyLoad,
        SwarmCluster,
        deploy_proxy_stack,
    )

    from nginxgen.docker.swarm_rollout import deploy_to_service

    started = time.monotonic()
    cluster = SwarmCluster(docker_client())
    lines = []
    try:
        cluster.start([PROXY_IMAGE])
        lines.append(f"three nodes up and in one swarm: {time.monotonic() - started:.1f} s")
        with tempfile.TemporaryDirectory(prefix="nginxgen-nodes-") as temporary:
            started = time.monotonic()
            proxy = deploy_proxy_stack(cluster, Path(temporary))
            lines.append(f"proxy stack serving on 3 nodes: {time.monotonic() - started:.1f} s")
            node0 = cluster.nodes[0].address

            def run(what: str, action: Callable[[], bool]) -> None:
                through = SteadyLoad("127.0.0.1", proxy.haproxy_port, DOMAIN, RATE)
                direct = SteadyLoad(node0, 80, DOMAIN, RATE)
                began = time.monotonic()
                with through, direct:
                    ok = action()
                lines.append(
                    f"{what}: {'ok' if ok else 'not deployed'} in {time.monotonic() - began:.1f} s;"
                    f" through HAProxy {through.total} requests, {through.failed} failed;"
                    f" node0 directly {direct.failed} failed over {direct.failing_seconds:.2f} s"
                )

            for change in range(changes):
                proxy.write(f"change-{change}")
                run(
                    f"config change {change + 1}",
                    lambda: proxy.cli("deploy", "--swarm-service", SERVICE).exit_code == 0,
                )
            secure = Path(temporary) / "environments" / "secure.yaml"
            secure.write_text(MISSING_CERTIFICATE, encoding="utf-8")
            run(
                "missing certificate (refused)",
                lambda: proxy.cli("deploy", "--swarm-service", SERVICE).exit_code == 0,
            )
            secure.unlink()
            live = (Path(temporary) / "out" / "proxy.conf").read_text(encoding="utf-8")
            unhealthy = live.replace(f"server_name {DOMAIN}", "server_name elsewhere.test")
            run(
                "never healthy (rolled back by Swarm)",
                lambda: (
                    deploy_to_service(
                        cluster.manager.client,
                        SERVICE,
                        unhealthy,
                        target=TARGET,
                        keep=10,
                        say=lambda _: None,
                    ).ok
                ),
            )
            lines.append(f"after all: {proxy.status().lines()[-1]}")
    finally:
        problems = cluster.close()
        if problems:
            lines.append(f"could not remove: {'; '.join(problems)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--image", default=DEFAULT_IMAGE)
    parser.add_argument("--updates", type=int, default=3)
    parser.add_argument("--nodes", type=int, choices=(1, 3), default=1)
    parser.add_argument("--changes", type=int, default=2)
    options = parser.parse_args(argv)
    if options.nodes == 3:
        if not 1 <= options.changes <= 5:
            parser.error("--changes must be 1..5")
        try:
            print(measure_nodes(options.changes))
        except (BenchmarkError, DockerException, TimeoutError) as error:
            print(f"swarm benchmark could not run: {error}", file=sys.stderr)
            return 1
        return 0
    if not 1 <= options.updates <= 10:
        parser.error("--updates must be 1..10 (the run stays bounded)")
    try:
        client = docker_client()
        for image in (options.image, BACKEND_IMAGE):
            require_image(image)
        with tempfile.TemporaryDirectory(prefix="nginxgen-swarm-") as temporary, swarm(client):
            print(measure(client, options.image, Path(temporary), options.updates))
    except (BenchmarkError, DockerException) as error:
        print(f"swarm benchmark could not run: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
