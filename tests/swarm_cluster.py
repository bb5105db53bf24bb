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

from nginxgen.nginx.docker_engine import tar_of

DIND_IMAGE = "nginxgen-test/dind:bookworm"
HAPROXY_IMAGE = "nginxgen-test/haproxy:bookworm"
HAPROXY_CONFIG = "/usr/local/etc/haproxy/haproxy.cfg"
SWARM_DOC = Path(__file__).resolve().parent.parent / "docs" / "swarm.md"
NODE_COUNT = 3
LABEL = "nginxgen-swarm-test"
API_PORT = 2375
# Debian bookworm's docker.io (20.10); fixed, so a client exists before its dockerd answers.
API_VERSION = "1.41"
START_TIMEOUT_SECONDS = 120.0


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
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                status, headers, _ = get(self.address, self.port, self.host)
                self.outcomes[str(status)] += 1
                self.markers[headers.get("x-deployed", "-")] += 1
            except (OSError, http.client.HTTPException) as error:
                self.outcomes[type(error).__name__] += 1
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
