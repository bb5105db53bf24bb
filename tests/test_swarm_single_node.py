"""Docker Swarm: `platform: swarm` and `nginxgen stack`, on a real single-node swarm.

The `nginx`-marked tests initialise a swarm (unless the daemon is already in one, which is then
left as it was), deploy the generated stack file with `docker stack deploy`, start the backend as
a swarm service, and leave the swarm afterwards. Requests go to the proxy's host-mode port on
127.0.0.1, and once to this machine's own address (the client-address test).

A service's virtual IP does not route on this test machine (its kernel has no IPVS): the tests
reach the backend through `tasks.<service>` only, which is what `upstream-resolve` generates.
"""

from __future__ import annotations

import fcntl
import json
import secrets
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from docker.types import EndpointSpec, Mount, ServiceMode, UpdateConfig
from nginx_fixtures import (
    BACKEND_IMAGE,
    OFFICIAL_LAYOUT_IMAGE,
    Response,
    http_get,
    require_image,
    wait_for,
)
from swarm_support import (
    DOMAIN,
    HTTP_ONLY_ENVIRONMENT,
    SETTINGS,
    invoke,
)
from typer.testing import CliRunner

from nginxgen.cli import app

# --- a real single-node swarm ------------------------------------------------------------------


def host_address() -> str:
    """This machine's own IPv4 address on a non-Docker interface (SIOCGIFADDR)."""
    for _, name in socket.if_nameindex():
        if name == "lo" or name.startswith(("docker", "br-", "veth", "vx")):
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                packed = fcntl.ioctl(
                    probe.fileno(), 0x8915, struct.pack("256s", name[:15].encode())
                )
            except OSError:
                continue
        return socket.inet_ntoa(packed[20:24])
    pytest.fail("no non-loopback IPv4 address on this machine", pytrace=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("", 0))
        return int(probe.getsockname()[1])


@dataclass
class SwarmProxy:
    """The proxy stack deployed from `nginxgen stack`, and the backend service behind it."""

    client: Any
    stack: str
    backend: str
    port: int
    project: Path
    network: str
    services: list[Any] = field(default_factory=list)

    def get(self, path: str = "/") -> Response:
        return http_get(self.port, DOMAIN, path)

    def proxy_container(self) -> Any:
        containers = self.client.containers.list(
            filters={"label": f"com.docker.swarm.service.name={self.stack}_nginx"}
        )
        assert len(containers) == 1, containers
        return containers[0]

    def proxy_tasks(self) -> list[str]:
        """The proxy's tasks as `state: error`, for failure messages."""
        service = self.client.services.get(f"{self.stack}_nginx")
        return [
            f"{task['Status']['State']}: {task['Status'].get('Err', '')}"
            for task in service.tasks()
        ]

    def worker_pids(self) -> set[str]:
        """nginx's worker processes: a reload replaces every one of them."""
        result = self.proxy_container().exec_run(
            [
                "sh",
                "-c",
                'for f in /proc/[0-9]*/cmdline; do [ "$(head -c 13 "$f")" = "nginx: worker" ] '
                '&& echo "$f"; done',
            ]
        )
        pids = set(bytes(result.output).decode().split())
        assert pids, result
        return pids

    def backend_service(self) -> Any:
        return self.client.services.get(self.backend)

    def scale(self, replicas: int) -> None:
        """Only the replica count changes. docker-py's `Service.scale` rebuilds the container
        spec with its own defaults, which Swarm takes for a new spec: it replaces every task."""
        service = self.backend_service()
        spec = service.attrs["Spec"]
        self.client.api.update_service(
            service.id,
            service.version,
            task_template=spec["TaskTemplate"],
            name=spec["Name"],
            labels=spec.get("Labels"),
            mode={"Replicated": {"Replicas": replicas}},
            update_config=spec.get("UpdateConfig"),
            rollback_config=spec.get("RollbackConfig"),
            endpoint_spec=spec.get("EndpointSpec"),
        )

    def task_names(self) -> set[str]:
        """The backend's running tasks, as their hostnames (the container ID's first 12)."""
        names = set()
        for task in self.backend_service().tasks(filters={"desired-state": "running"}):
            status = task["Status"]
            if status["State"] == "running":
                names.add(status["ContainerStatus"]["ContainerID"][:12])
        return names

    def answering(self, count: int) -> Counter[str]:
        """Which backend answered each of `count` requests (`status=N` when none did)."""
        seen: Counter[str] = Counter()
        for _ in range(count):
            response = self.get()
            if response.status == 200:
                seen[response.body.split()[0].removeprefix("backend=")] += 1
            else:
                seen[f"status={response.status}"] += 1
        return seen

    def wait_for_tasks(self, replicas: int, load: SteadyLoad | None = None) -> set[str]:
        """Until `replicas` tasks run and every one of them answers through nginx: to this
        thread's requests, or, under `load`, to the load's latest ones (two clients taking
        turns would each see every other peer of nginx's round robin)."""
        tasks = wait_for(
            f"{replicas} running tasks",
            self.task_names,
            lambda names: len(names) == replicas,
            timeout=60,
        )
        if load is None:
            probe = lambda: set(self.answering(6 * replicas))  # noqa: E731
        else:
            probe = lambda: load.latest(6 * replicas)  # noqa: E731
        wait_for(
            f"nginx answering from exactly the tasks {sorted(tasks)}",
            probe,
            lambda seen: seen == tasks,
            timeout=30,
        )
        return tasks


class SteadyLoad:
    """Requests one after another from a thread until stopped; every answer is kept."""

    def __init__(self, proxy: SwarmProxy) -> None:
        self.proxy = proxy
        self.statuses: Counter[str] = Counter()
        self.backends: Counter[str] = Counter()
        self._recent: deque[str] = deque(maxlen=100)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                response = self.proxy.get()
            except Exception as error:  # every failure counts; none may end the load
                self.statuses[type(error).__name__] += 1
                continue
            self.statuses[str(response.status)] += 1
            if response.status == 200:
                name = response.body.split()[0].removeprefix("backend=")
                self.backends[name] += 1
                self._recent.append(name)

    def latest(self, count: int) -> set[str]:
        """The backends that answered the latest `count` requests (all of them once enough)."""
        recent = list(self._recent)[-count:]
        return set(recent) if len(recent) == count else set()

    def __enter__(self) -> SteadyLoad:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    @property
    def failed(self) -> int:
        return sum(count for status, count in self.statuses.items() if status != "200")

    @property
    def total(self) -> int:
        return sum(self.statuses.values())


@pytest.fixture(scope="module")
def swarm(docker_client: Any) -> Iterator[Any]:
    """A single-node swarm for this module: initialised here and left afterwards, unless the
    daemon already was in a swarm (then it is left exactly as it was)."""
    state = docker_client.info()["Swarm"]["LocalNodeState"]
    if state not in {"inactive", "active"}:
        pytest.fail(f"the Docker daemon's swarm is {state!r}", pytrace=False)
    initialised = state == "inactive"
    # `swarm init` creates the docker_gwbridge network and `swarm leave` keeps it: removed too
    # when this fixture made it, so the daemon ends as it began.
    had_gwbridge = bool(docker_client.networks.list(names=["docker_gwbridge"]))
    if initialised:
        docker_client.swarm.init(advertise_addr="127.0.0.1")
    try:
        yield docker_client
    finally:
        if initialised:
            docker_client.swarm.leave(force=True)
            if not had_gwbridge:
                for network in docker_client.networks.list(names=["docker_gwbridge"]):
                    network.remove()


@pytest.fixture(scope="module")
def deployed(
    swarm: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[SwarmProxy, Response]]:
    """The generated stack deployed before any backend exists (its first answer kept), then the
    backend service with 3 tasks. Everything is removed afterwards."""
    require_image(swarm, OFFICIAL_LAYOUT_IMAGE)
    require_image(swarm, BACKEND_IMAGE)
    suffix = secrets.token_hex(3)
    project = tmp_path_factory.mktemp("swarm")
    (project / "environments").mkdir()
    backend = f"nginxgen-shop-{suffix}"
    (project / "environments" / "shop.yaml").write_text(
        HTTP_ONLY_ENVIRONMENT.format(domain=DOMAIN, host=backend), encoding="utf-8"
    )
    (project / "nginxgen.yaml").write_text(SETTINGS, encoding="utf-8")
    network = f"nginxgen-test-{suffix}"
    port = free_port()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(project)  # the output path is relative to the working directory
        invoke(project, "render")
        stack_text = invoke(
            project,
            "stack",
            "--network",
            network,
            "--http-port",
            str(port),
            "--image",
            OFFICIAL_LAYOUT_IMAGE,
        )
    assert (project / "out" / "proxy.conf").is_file()
    (project / "nginx-stack.yaml").write_text(stack_text, encoding="utf-8")
    stack = f"nginxgen-test-{suffix}"
    proxy = SwarmProxy(swarm, stack, backend, port, project, network)
    try:
        subprocess.run(
            ["docker", "stack", "deploy", "-c", "nginx-stack.yaml", stack],
            cwd=project,
            check=True,
            capture_output=True,
            timeout=120,
        )
        # nginx is up before any task of its backend exists: that route answers 502.
        try:
            first = proxy.get()
        except OSError:
            time.sleep(2)
            first = wait_for(
                f"the proxy answering (tasks: {proxy.proxy_tasks()})",
                proxy.get,
                lambda response: response.status > 0,
                timeout=60,
            )
        proxy.services.append(
            swarm.services.create(
                BACKEND_IMAGE,
                name=backend,
                networks=[network],
                mode=ServiceMode("replicated", replicas=3),
                update_config=UpdateConfig(parallelism=1, order="start-first"),
                endpoint_spec=EndpointSpec(mode="vip"),
            )
        )
        yield proxy, first
    finally:
        for service in proxy.services:
            service.remove()
        subprocess.run(
            ["docker", "stack", "rm", stack], check=False, capture_output=True, timeout=60
        )
        wait_for(
            "the stack's network removed",
            lambda: swarm.networks.list(names=[network]),
            lambda found: not found,
            timeout=60,
        )


@pytest.mark.nginx
def test_nginx_starts_before_any_backend_task_then_spreads_over_3_tasks(
    deployed: tuple[SwarmProxy, Response],
) -> None:
    proxy, first = deployed
    assert first.status == 502, first
    tasks = proxy.wait_for_tasks(3)
    seen = proxy.answering(30)
    assert set(seen) == tasks
    # Round robin over the tasks' addresses: each gets about a third.
    assert min(seen.values()) >= 5, seen


@pytest.mark.nginx
def test_scaling_2_4_1_is_followed_without_a_reload_or_a_failed_request(
    deployed: tuple[SwarmProxy, Response],
) -> None:
    proxy, _ = deployed
    proxy.wait_for_tasks(3)
    workers = proxy.worker_pids()
    with SteadyLoad(proxy) as load:
        previous = proxy.task_names()
        for replicas in (2, 4, 1, 3):
            proxy.scale(replicas)
            tasks = proxy.wait_for_tasks(replicas, load)
            # Scaling keeps the tasks that stay: down, a subset; up, a superset.
            assert tasks <= previous or tasks >= previous, (previous, tasks)
            previous = tasks
    assert load.total > 0
    assert load.failed == 0, load.statuses
    assert proxy.worker_pids() == workers, "nginx was reloaded"


@pytest.mark.nginx
def test_a_start_first_rolling_update_under_load_fails_no_request(
    deployed: tuple[SwarmProxy, Response],
) -> None:
    proxy, _ = deployed
    before = proxy.wait_for_tasks(3)
    service = proxy.backend_service()
    with SteadyLoad(proxy) as load:
        service.update(force_update=True, fetch_current_spec=True)
        wait_for(
            "the rolling update completed",
            lambda: proxy.backend_service().attrs.get("UpdateStatus", {}).get("State"),
            lambda state: state == "completed",
            timeout=120,
        )
        after = proxy.wait_for_tasks(3, load)
    assert not after & before, "every task was replaced"
    assert load.total > 0
    assert load.failed == 0, load.statuses
    # The load was answered by the old tasks and then by the new ones.
    assert before | after <= set(load.backends)


@pytest.mark.nginx
def test_host_mode_ports_keep_the_client_address(
    deployed: tuple[SwarmProxy, Response],
) -> None:
    proxy, _ = deployed
    proxy.wait_for_tasks(3)
    address = host_address()
    path = f"/client-address-{secrets.token_hex(4)}"
    # This machine's own address, not loopback: Docker's userland proxy would stand in between.
    with socket.create_connection((address, proxy.port), timeout=3) as connection:
        connection.sendall(f"GET {path} HTTP/1.0\r\nHost: {DOMAIN}\r\n\r\n".encode())
        answer = connection.recv(4096).decode()
    assert answer.startswith("HTTP/1.1 200"), answer

    # nginx logs $remote_addr, the address it sends as X-Real-IP; the routing mesh would show
    # one of its own (10.0.0.x), the loopback path Docker's proxy's gateway address.
    # nginx writes the access log line after it has sent the answer: wait for it to show.
    def logged() -> list[str]:
        logs = bytes(proxy.proxy_container().logs()).decode()
        return [line for line in logs.splitlines() if path in line]

    lines = wait_for("the request's access log line", logged, lambda found: bool(found), 10)
    assert len(lines) == 1, lines
    assert lines[0].split()[0] == address, lines[0]


@pytest.mark.nginx
def test_deploy_rolls_a_new_config_out_to_the_stack_s_task(
    deployed: tuple[SwarmProxy, Response],
) -> None:
    """The printed stack mounts its config as a Swarm config: deploy makes a new one and Swarm
    replaces the task (test_swarm_nodes.py does it on three nodes, under load)."""
    proxy, _ = deployed
    proxy.wait_for_tasks(3)
    environment = proxy.project / "environments" / "other.yaml"
    environment.write_text(
        HTTP_ONLY_ENVIRONMENT.format(domain="other.example.test", host=proxy.backend),
        encoding="utf-8",
    )
    service = f"{proxy.stack}_nginx"
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.chdir(proxy.project)
            report = invoke(proxy.project, "deploy", "--swarm-service", service)
            status = CliRunner().invoke(
                app, ["status", "--swarm-service", service, "--settings", "nginxgen.yaml"]
            )
        assert "nginx -t passed in a test task" in report
        assert status.exit_code == 0, status.output
        assert f"service {service}: 1 node(s), all on nginxgen-" in status.output
        response = wait_for(
            "the new environment served by the new task",
            lambda: http_get(proxy.port, "other.example.test"),
            lambda response: response.status == 200,
            timeout=30,
        )
        assert response.body.startswith("backend=")
    finally:
        environment.unlink()


# --- --swarm-service: a proxy service of 2 tasks sharing one bind-mounted directory -----------

TASKS_DOMAIN = "tasks.example.test"
TASKS_ENVIRONMENT = """\
domains: [{domain}]
tls: false
services:
  app: {{host: {host}, port: 3000}}
routes:
  - {{path: /, service: app, response_headers: {{X-Deployed: {marker}}}}}
"""


def task_exec(container: Any, script: str, *arguments: str) -> str:
    result = container.exec_run(["bash", "-c", script, "task", *arguments])
    return bytes(result.output).decode("utf-8", "replace")


def task_workers(container: Any) -> set[str]:
    """The task's nginx workers (`/proc/PID`): a reload replaces every one of them."""
    result = container.exec_run(
        [
            "sh",
            "-c",
            'for f in /proc/[0-9]*/cmdline; do [ "$(head -c 13 "$f" 2>/dev/null)" = '
            '"nginx: worker" ] && echo "${f%/cmdline}"; done; exit 0',
        ],
        stderr=False,
    )
    return set(bytes(result.output).decode().split())


def task_get(container: Any, host: str) -> str:
    """A request to the task's own nginx, from inside it (no port is published)."""
    return task_exec(
        container,
        'exec 3<>/dev/tcp/127.0.0.1/80 && printf "GET / HTTP/1.0\\r\\nHost: %s\\r\\n\\r\\n" '
        '"$1" >&3 && cat <&3',
        host,
    )


@pytest.fixture(scope="module")
def proxy_service(
    deployed: tuple[SwarmProxy, Response],
) -> Iterator[tuple[SwarmProxy, str]]:
    """A second proxy service on the swarm: 2 tasks, no published port (two host-mode ports
    cannot share one node), both bind-mounting one directory as conf.d."""
    proxy, _ = deployed
    directory = proxy.project / "deployed-tasks"
    directory.mkdir()
    shutil.copy(proxy.project / "out" / "proxy.conf", directory / "proxy.conf")
    name = f"{proxy.stack}_tasks"
    service = proxy.client.services.create(
        OFFICIAL_LAYOUT_IMAGE,
        name=name,
        networks=[proxy.network],
        mode=ServiceMode("replicated", replicas=2),
        mounts=[Mount(target="/etc/nginx/conf.d", source=str(directory), type="bind")],
    )
    label = {"label": f"com.docker.swarm.service.name={name}"}
    try:
        containers = wait_for(
            "2 proxy tasks with nginx workers",
            lambda: proxy.client.containers.list(filters=label),
            lambda found: len(found) == 2 and all(task_workers(each) for each in found),
            timeout=60,
        )
        assert len({each.name for each in containers}) == 2
        yield proxy, name
    finally:
        service.remove()
        wait_for(
            "the proxy tasks removed",
            lambda: proxy.client.containers.list(all=True, filters=label),
            lambda found: not found,
            timeout=60,
        )


@pytest.mark.nginx
def test_deploy_to_a_swarm_service_reloads_every_task_and_status_reports_each(
    proxy_service: tuple[SwarmProxy, str],
) -> None:
    proxy, name = proxy_service
    proxy.wait_for_tasks(3)
    tasks = proxy.client.containers.list(filters={"label": f"com.docker.swarm.service.name={name}"})
    workers = {task.name: task_workers(task) for task in tasks}
    marker = f"swarm-{secrets.token_hex(3)}"
    environment = proxy.project / "environments" / "tasks.yaml"
    environment.write_text(
        TASKS_ENVIRONMENT.format(domain=TASKS_DOMAIN, host=proxy.backend, marker=marker),
        encoding="utf-8",
    )
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.chdir(proxy.project)
            report = invoke(proxy.project, "deploy", "--swarm-service", name)
            # Tested once, in the shared directory; reloaded and probed in each task.
            assert report.count("nginx -t passed inside") == 1, report
            for task in tasks:
                assert f"{task.name}: reloaded: /etc/nginx/conf.d/proxy.conf is live" in report
                assert f"{task.name}: tasks: http://{TASKS_DOMAIN}:80/ served" in report
            for task in tasks:
                assert not task_workers(task) & workers[task.name], f"{task.name} not reloaded"
                answer = task_get(task, TASKS_DOMAIN)
                assert answer.startswith("HTTP/1.1 200"), answer
                assert f"X-Deployed: {marker}" in answer, answer
            text = CliRunner().invoke(
                app,
                [
                    "status",
                    "--swarm-service",
                    name,
                    "--environments",
                    str(proxy.project / "environments"),
                    "--settings",
                    str(proxy.project / "nginxgen.yaml"),
                    "--format",
                    "json",
                ],
            )
        assert text.exit_code == 0, text.output
        reports = json.loads(text.stdout)
        assert sorted(report["container"] for report in reports) == sorted(workers)
        for report in reports:
            assert report["ok"], report
            messages = [finding["message"] for finding in report["findings"]]
            assert f"service app (tasks.{proxy.backend}:3000): 3 addresses, 3 answering" in (
                messages
            ), messages
            assert any(message.startswith("live: ") for message in messages), messages
    finally:
        environment.unlink()
