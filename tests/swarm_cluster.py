"""A real three-node Docker Swarm for the multi-node tests and `benchmarks/swarm.py --nodes 3`.

Each node is a Docker-in-Docker container (`nginxgen-test/dind:bookworm`, built by
`scripts/test-infra`) with its own dockerd and `/var/lib/docker` on a named volume, on one
user-defined bridge; node 0 is the manager, 1 and 2 join as workers. What this host allows:

- `--privileged` fails here ("unable to apply caps": the host daemon lacks CAP_SYS_RESOURCE),
  so the nodes get every capability but that one, no seccomp/AppArmor profile, unmasked /sys
  paths and every device; the image's entrypoint remounts /sys and the cgroups read-write;
- the kernel has no IPVS: no virtual IPs and no ingress routing mesh, so services here use
  `endpoint_mode: dnsrr` (`tasks.<svc>`) and ports in `mode: host`;
- no registry: images go in with `docker save | docker load` and services are created without
  resolving the image (`--resolve-image never`);
- no ESP: overlays are not encrypted.

Everything carries the label `nginxgen-swarm-test=<run>` and is removed by `close()`; the host
daemon's own swarm state is never touched.
"""

from __future__ import annotations

import http.client
import os
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
from docker.errors import DockerException, NotFound
from typer.testing import CliRunner

from nginxgen.cli import app
from nginxgen.docker.swarm_rollout import ServiceStatus, service_status
from nginxgen.nginx.sandbox import tar_of

DIND_IMAGE = "nginxgen-test/dind:bookworm"
PROXY_IMAGE = "nginxgen-test/nginx:official-layout"  # nginx 1.30: upstream-resolve
HAPROXY_IMAGE = "nginxgen-test/haproxy:bookworm"
HAPROXY_CONFIG = "/usr/local/etc/haproxy/haproxy.cfg"
SWARM_DOC = Path(__file__).resolve().parent.parent / "docs" / "swarm.md"
NODE_COUNT = 3
LABEL = "nginxgen-swarm-test"
API_PORT = 2375
# Debian bookworm's docker.io (20.10); fixed, so a client exists before its dockerd answers.
API_VERSION = "1.41"
START_TIMEOUT_SECONDS = 120.0


DOMAIN = "shop.example.test"
SERVICE = "proxy_nginx"
TARGET = "/etc/nginx/conf.d/proxy.conf"
ENVIRONMENT = """\
domains: [{domain}]
tls: false
services:
  app: {{host: nginxgen-backend, port: 3000}}
routes:
  - {{path: /, service: app, response_headers: {{X-Deployed: {marker}}}}}
"""
# An environment whose certificate no node has.
MISSING_CERTIFICATE = """\
domains: [secure.example.test]
tls:
  certificate: /etc/letsencrypt/live/secure.example.test/fullchain.pem
  certificate_key: /etc/letsencrypt/live/secure.example.test/privkey.pem
services:
  app: {host: nginxgen-backend, port: 3000}
routes:
  - {path: /, service: app}
"""
SETTINGS = 'platform: swarm\nnginx_version: "1.30"\nresolver_valid: 1s\noutput: out/proxy.conf\n'
BACKEND_CONFIG = """\
server {
    listen 3000 default_server;
    location / { default_type text/plain; return 200 "backend=$hostname\\n"; }
}
"""


@dataclass
class Node:
    """One node: its container on the host daemon, its address on the bridge, its own API."""

    container: Any
    address: str
    client: Any
    hostname: str


@dataclass
class SwarmCluster:
    host: Any
    run: str = field(default_factory=lambda: secrets.token_hex(3))
    nodes: list[Node] = field(default_factory=list)
    network: Any = None
    volumes: list[Any] = field(default_factory=list)
    containers: list[Any] = field(default_factory=list)

    @property
    def labels(self) -> dict[str, str]:
        return {LABEL: self.run}

    @property
    def manager(self) -> Node:
        return self.nodes[0]

    @property
    def manager_url(self) -> str:
        return f"tcp://{self.manager.address}:{API_PORT}"

    def start(self, images: Iterable[str]) -> None:
        """Start the nodes, load `images` into each, form the swarm; ready when every node is."""
        self.network = self.host.networks.create(
            f"nginxgen-swarm-{self.run}", driver="bridge", labels=self.labels
        )
        for index in range(NODE_COUNT):
            self.nodes.append(self._start_node(index))
        for node in self.nodes:
            _wait(f"dockerd in {node.hostname}", lambda node=node: _pings(node.client))
        self._load(list(images))
        manager = self.manager
        manager.client.swarm.init(advertise_addr=manager.address, listen_addr="0.0.0.0:2377")
        token = manager.client.swarm.attrs["JoinTokens"]["Worker"]
        for node in self.nodes[1:]:
            node.client.swarm.join(
                remote_addrs=[f"{manager.address}:2377"],
                join_token=token,
                advertise_addr=node.address,
                listen_addr="0.0.0.0:2377",
            )
        _wait("every node ready in the swarm", self._all_ready)

    def _start_node(self, index: int) -> Node:
        hostname = f"node{index}"
        volume = self.host.volumes.create(
            f"nginxgen-swarm-{self.run}-{hostname}", labels=self.labels
        )
        self.volumes.append(volume)
        api = self.host.api
        host_config = api.create_host_config(
            cap_add=["ALL"],
            cap_drop=["SYS_RESOURCE"],
            security_opt=["seccomp=unconfined", "apparmor=unconfined"],
            device_cgroup_rules=["a *:* rwm"],
            binds={volume.name: {"bind": "/var/lib/docker", "mode": "rw"}},
        )
        # `--security-opt systempaths=unconfined` is the CLI's word for these two: no /proc or
        # /sys path masked or read-only, which a nested dockerd needs.
        host_config["MaskedPaths"] = []
        host_config["ReadonlyPaths"] = []
        created = api.create_container(
            DIND_IMAGE,
            name=f"nginxgen-swarm-{self.run}-{hostname}",
            hostname=hostname,
            labels=self.labels,
            host_config=host_config,
            networking_config=api.create_networking_config(
                # The node's name on the bridge, as the documented HAProxy config uses it.
                {self.network.name: api.create_endpoint_config(aliases=[hostname])}
            ),
        )
        container = self.host.containers.get(created["Id"])
        self.containers.append(container)
        container.start()
        container.reload()
        address = container.attrs["NetworkSettings"]["Networks"][self.network.name]["IPAddress"]
        client = docker.DockerClient(
            base_url=f"tcp://{address}:{API_PORT}", version=API_VERSION, timeout=120
        )
        return Node(container, address, client, hostname)

    def _load(self, images: list[str]) -> None:
        if not images:
            return
        archives = [b"".join(self.host.api.get_image(image)) for image in images]
        with ThreadPoolExecutor(max_workers=NODE_COUNT) as pool:
            list(
                pool.map(
                    lambda node: [node.client.images.load(data) for data in archives],
                    self.nodes,
                )
            )

    def _all_ready(self) -> bool:
        found = self.manager.client.nodes.list()
        return len(found) == NODE_COUNT and all(
            node.attrs["Status"]["State"] == "ready" for node in found
        )

    def node_ids(self) -> dict[str, str]:
        """Swarm node id → hostname."""
        return {
            node.id: node.attrs["Description"]["Hostname"]
            for node in self.manager.client.nodes.list()
        }

    def on_manager(self, command: list[str], files: dict[str, bytes] | None = None) -> str:
        """A `docker` CLI command on the manager (the CLI is in the node's image), `files`
        put there first at their absolute paths; its output, or an error with it."""
        if files:
            self.manager.container.put_archive("/", tar_of(files))
        code, output = self.manager.container.exec_run(command)
        text = bytes(output).decode("utf-8", "replace")
        if code != 0:
            raise RuntimeError(f"{' '.join(command)} on the manager: exit {code}: {text}")
        return text

    def close(self) -> list[str]:
        """Remove the nodes, their volumes and the bridge; what could not be removed."""
        problems: list[str] = []
        for node in self.nodes:
            node.client.close()

        def remove(resource: Any, **options: bool) -> None:
            try:
                resource.remove(**options)
            except NotFound:
                pass
            except DockerException as error:
                problems.append(f"{getattr(resource, 'name', resource)}: {error}")

        with ThreadPoolExecutor(max_workers=NODE_COUNT) as pool:
            list(pool.map(lambda container: remove(container, force=True, v=True), self.containers))
        for volume in self.volumes:
            remove(volume, force=True)
        if self.network is not None:
            remove(self.network)
        return problems


def _pings(client: Any) -> bool:
    try:
        return bool(client.ping())
    except Exception:  # noqa: BLE001 - not up yet, whatever the transport says
        return False


def _wait_until(what: str, probe: Any, done: Any, timeout: float) -> Any:
    """`probe()` until `done` accepts its result; a refused connection is not done yet."""
    deadline = time.monotonic() + timeout
    last: object = "nothing yet"
    while True:
        try:
            last = probe()
            if done(last):
                return last
        except (OSError, http.client.HTTPException) as error:
            last = error
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:g} s; last: {last!r}")
        time.sleep(0.3)


def _wait(what: str, condition: Any, timeout: float = START_TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:g} s")
        time.sleep(0.5)


def get(
    address: str, port: int, host: str, timeout: float = 3.0
) -> tuple[int, dict[str, str], str]:
    """One GET on a new connection: status, headers (lower-case names), body."""
    connection = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        connection.request("GET", "/", headers={"Host": host, "Connection": "close"})
        response = connection.getresponse()
        body = response.read().decode("utf-8", "replace")
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        connection.close()


class SteadyLoad:
    """`rate` requests a second to address:port as `host`, each on a new connection, until
    stopped; every answer that is not 200 (or no answer within 3 s) is a failure."""

    def __init__(self, address: str, port: int, host: str, rate: float = 15.0) -> None:
        self.address, self.port, self.host, self.interval = address, port, host, 1.0 / rate
        self.outcomes: Counter[str] = Counter()
        self.markers: Counter[str] = Counter()
        self.failure_times: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                status, headers, _ = get(self.address, self.port, self.host)
                self.outcomes[str(status)] += 1
                self.markers[headers.get("x-deployed", "-")] += 1
                if status != 200:
                    self.failure_times.append(started)
            except (OSError, http.client.HTTPException) as error:
                self.outcomes[type(error).__name__] += 1
                self.failure_times.append(started)
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def __enter__(self) -> SteadyLoad:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    @property
    def total(self) -> int:
        return sum(self.outcomes.values())

    @property
    def failed(self) -> int:
        return self.total - self.outcomes["200"]

    @property
    def failing_seconds(self) -> float:
        """From the first failed request to the last one after it (one outage: a rollout
        stops a node's task once)."""
        if not self.failure_times:
            return 0.0
        return self.failure_times[-1] - self.failure_times[0] + self.interval


def documented_haproxy_config(doc: Path = SWARM_DOC) -> str:
    """The HAProxy configuration docs/swarm.md shows (its one ```haproxy block), as tested."""
    found = re.findall(r"```haproxy\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)
    if len(found) != 1:
        raise ValueError(f"{doc}: expected one ```haproxy block, found {len(found)}")
    return str(found[0])


def start_haproxy(cluster: SwarmCluster, config: str) -> tuple[Any, int]:
    """HAProxy with `config` on the nodes' bridge (it reaches them as node0..node2), its port
    80 published on 127.0.0.1; the container and that port."""
    container = cluster.host.containers.create(
        HAPROXY_IMAGE,
        name=f"nginxgen-swarm-{cluster.run}-haproxy",
        network=cluster.network.name,
        labels=cluster.labels,
        ports={"80/tcp": ("127.0.0.1", None)},
    )
    cluster.containers.append(container)
    container.put_archive("/", tar_of({HAPROXY_CONFIG: config.encode()}))
    container.start()
    container.reload()
    port = int(container.attrs["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"])
    return container, port


@dataclass
class ProxyStack:
    cluster: SwarmCluster
    project: Path
    haproxy_port: int

    def cli(self, *arguments: str) -> Any:
        previous, host = Path.cwd(), os.environ.get("DOCKER_HOST")
        os.chdir(self.project)
        os.environ["DOCKER_HOST"] = self.cluster.manager_url
        try:
            return CliRunner().invoke(app, [*arguments, "--settings", "nginxgen.yaml"])
        finally:
            os.chdir(previous)
            if host is None:
                del os.environ["DOCKER_HOST"]
            else:
                os.environ["DOCKER_HOST"] = host

    def write(self, marker: str) -> None:
        (self.project / "environments" / "shop.yaml").write_text(
            ENVIRONMENT.format(domain=DOMAIN, marker=marker), encoding="utf-8"
        )

    def markers(self) -> dict[str, str]:
        """What each node answers when asked directly."""
        return {
            node.hostname: get(node.address, 80, DOMAIN)[1].get("x-deployed", "-")
            for node in self.cluster.nodes
        }

    def load(self) -> SteadyLoad:
        return SteadyLoad("127.0.0.1", self.haproxy_port, DOMAIN)

    def status(self) -> ServiceStatus:
        return service_status(self.cluster.manager.client, SERVICE, TARGET)

    def task_ids(self) -> set[str]:
        return {node.task for node in self.status().nodes}


def deploy_proxy_stack(cluster: SwarmCluster, project: Path) -> ProxyStack:
    """The stack `nginxgen stack` prints for one environment, deployed on the manager with
    `docker stack deploy`; a backend service of 2 tasks; HAProxy in front with the
    configuration docs/swarm.md shows. Ready once every node serves and HAProxy answers."""
    (project / "environments").mkdir()
    (project / "nginxgen.yaml").write_text(SETTINGS, encoding="utf-8")
    network = f"nginxgen-{cluster.run}"
    proxy = ProxyStack(cluster, project, 0)
    proxy.write("first")
    assert proxy.cli("render").exit_code == 0
    printed = proxy.cli("stack", "--network", network, "--image", PROXY_IMAGE)
    assert printed.exit_code == 0, printed.output
    files = {
        "/project/nginx-stack.yaml": printed.stdout.encode(),
        "/project/out/proxy.conf": (project / "out" / "proxy.conf").read_bytes(),
    }
    cluster.on_manager(
        [
            "sh",
            "-c",
            "cd /project && docker stack deploy --resolve-image never -c nginx-stack.yaml proxy",
        ],
        files,
    )
    manager = cluster.manager.client
    backend_config = manager.configs.create(name="nginxgen-backend", data=BACKEND_CONFIG.encode())
    manager.api.create_service(
        task_template={
            "ContainerSpec": {
                "Image": PROXY_IMAGE,
                "Configs": [
                    {
                        "File": {
                            "Name": "/etc/nginx/conf.d/default.conf",
                            "UID": "0",
                            "GID": "0",
                            "Mode": 0o444,
                        },
                        "ConfigID": backend_config.id,
                        "ConfigName": "nginxgen-backend",
                    }
                ],
            },
            "Networks": [{"Target": network}],
        },
        name="nginxgen-backend",
        mode={"Replicated": {"Replicas": 2}},
        endpoint_spec={"Mode": "dnsrr"},
    )
    _wait_until(
        "the proxy on 3 nodes, healthy, serving through the backend",
        proxy.markers,
        lambda markers: markers == {"node0": "first", "node1": "first", "node2": "first"},
        timeout=180,
    )
    _, proxy.haproxy_port = start_haproxy(cluster, documented_haproxy_config())
    # A task serves before Swarm marks it running (its health check passed): wait for both.
    _wait_until(
        "every node's task running and healthy",
        proxy.status,
        lambda status: status.ok and len(status.nodes) == NODE_COUNT,
        timeout=120,
    )
    _wait_until(
        "HAProxy answering",
        lambda: get("127.0.0.1", proxy.haproxy_port, DOMAIN)[0],
        lambda status: status == 200,
        timeout=30,
    )
    return proxy
