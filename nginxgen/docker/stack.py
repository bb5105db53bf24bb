"""The stack `nginxgen test` runs: the nginx under test and one echo backend, in Docker.

The echo answers for every service host. All aliases of one container on one network resolve
to one address, so the echo could not tell them apart: each service host gets a private network
of its own on which only the echo carries that name, and nginx joins all of them. Docker's DNS
answers a name with the echo's address on that name's network, and the address the request
arrives at names the host. Taking a host down is leaving its network: the name stops
resolving, as it does when a container stops. Everything is removed when the stack closes.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, Self

from nginxgen.core.errors import NginxgenError
from nginxgen.nginx.docker_engine import docker_client, ensure_image, tar_of

LOOPBACK = "127.0.0.1"
LABEL = {"nginxgen": "test"}
START_TIMEOUT_SECONDS = 30.0
HTTP_PORTS = (80, 443)
NGINX_LOG = "/tmp/nginxgen-test-nginx.log"
START_NGINX = f'nginx </dev/null >"{NGINX_LOG}" 2>&1; code=$?; cat "{NGINX_LOG}"; exit "$code"'


class NginxDidNotStart(NginxgenError):
    """The nginx under test exited or never answered: a finding, with its log."""

    exit_code = 1


class TestStack:
    """nginx from `image` with `files` at their absolute paths (ports 80 and 443 published on
    127.0.0.1), and an echo of the same image started with `nginx -c echo_config_path`,
    named as every host of `hosts` on that host's own network."""

    __test__ = False  # not a pytest class

    def __init__(
        self,
        image: str,
        files: Mapping[str, bytes],
        echo_config_path: str,
        echo_config: str,
        hosts: Iterable[str],
    ) -> None:
        self.image = image
        self.files = dict(files)
        self.echo_config_path = echo_config_path
        self.echo_config = echo_config
        self.hosts = tuple(sorted(set(hosts)))
        self._client: Any = None
        self._networks: dict[str, Any] = {}
        self._base: Any = None
        self._echo: Any = None
        self._nginx: Any = None
        self._up: set[str] = set()
        self._suffix = uuid.uuid4().hex[:10]

    def __enter__(self) -> Self:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _start(self) -> None:
        client = self._client = docker_client()
        ensure_image(client, self.image, pull=True)
        self._base = self._network("base")
        for host in self.hosts:
            self._networks[host] = self._network(host)
        self._echo = client.containers.create(
            self.image,
            entrypoint=["nginx", "-c", self.echo_config_path, "-g", "daemon off;"],
            command=[],
            network=self._base.name,
            labels=LABEL,
            name=f"nginxgen-test-echo-{self._suffix}",
        )
        self._echo.put_archive("/", tar_of({self.echo_config_path: self.echo_config.encode()}))
        self._echo.start()
        # Any free port on 127.0.0.1 (None), which the SDK's types do not foresee.
        published: dict[str, Any] = {f"{port}/tcp": (LOOPBACK, None) for port in HTTP_PORTS}
        # The container only holds nginx, which is started and stopped inside it: restarting
        # a container re-creates its endpoints on every network, ten times slower. `init`
        # reaps the stopped masters.
        self._nginx = client.containers.create(
            self.image,
            entrypoint=["sleep"],
            command=["86400"],
            init=True,
            network=self._base.name,
            ports=published,
            labels=LABEL,
            name=f"nginxgen-test-nginx-{self._suffix}",
        )
        if self.files:
            self._nginx.put_archive("/", tar_of(self.files))
        for network in self._networks.values():
            network.connect(self._nginx)
        self._nginx.start()
        self._wait_for_echo()

    def _network(self, purpose: str) -> Any:
        # The name is for people reading `docker network ls`; the label finds leftovers.
        safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in purpose)[:40]
        return self._client.networks.create(
            f"nginxgen-test-{self._suffix}-{safe}", driver="bridge", labels=LABEL
        )

    def _wait_for_echo(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while b"start worker process" not in self._echo.logs():
            self._echo.reload()
            if self._echo.status == "exited" or time.monotonic() > deadline:
                raise NginxgenError(
                    "the echo backend did not start:",
                    details=bytes(self._echo.logs()).decode("utf-8", "replace"),
                )
            time.sleep(0.05)

    def set_up_hosts(self, up: Iterable[str]) -> None:
        """Make exactly the hosts in `up` reachable (the others' names stop resolving)."""
        wanted = set(up)
        for host in self.hosts:
            if host in wanted and host not in self._up:
                self._networks[host].connect(self._echo, aliases=[host])
            elif host not in wanted and host in self._up:
                self._networks[host].disconnect(self._echo)
        self._up = wanted & set(self.hosts)

    def start_nginx(self, probe_host: str) -> dict[int, int]:
        """Start nginx afresh (stopping a running one first), so it starts with nothing
        resolved: a reload would not do, since upstreams with `resolve` keep their addresses
        in shared memory across reloads. Waits until it answers on port 80 as `probe_host`;
        the published host port of each of 80 and 443."""
        nginx = self._nginx
        if self._nginx_processes():
            self._stop_nginx()
        # nginx keeps its stderr as the error log: a file, not the exec's stream, which
        # Docker would otherwise drain for two more seconds after the command returned.
        exit_code, output = nginx.exec_run(["sh", "-c", START_NGINX])
        if exit_code != 0:
            raise NginxDidNotStart(
                "nginx did not start:", details=bytes(output).decode("utf-8", "replace")
            )
        nginx.reload()
        ports = self._ports(nginx)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not (ports and _answers_http(ports[80], probe_host)):
            if time.monotonic() > deadline:
                raise NginxDidNotStart(f"nginx did not answer within {START_TIMEOUT_SECONDS:g} s")
            time.sleep(0.05)
        return ports

    def _stop_nginx(self) -> None:
        self._nginx.exec_run(["sh", "-c", f'nginx -s stop >>"{NGINX_LOG}" 2>&1'])
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while self._nginx_processes():
            if time.monotonic() > deadline:
                raise NginxDidNotStart("nginx did not stop")
            time.sleep(0.02)

    def _nginx_processes(self) -> set[str]:
        """The pids of nginx's processes, from /proc (images need not have `ps`)."""
        script = 'for f in /proc/[0-9]*/cmdline; do echo "$f $(tr "\\0" " " < "$f")"; done'
        _, output = self._nginx.exec_run(["sh", "-c", script])
        return {
            line.split("/")[2]
            for line in bytes(output).decode("utf-8", "replace").splitlines()
            if " nginx: " in line
        }

    @staticmethod
    def _ports(container: Any) -> dict[int, int]:
        published = container.attrs["NetworkSettings"]["Ports"] or {}
        ports = {}
        for port in HTTP_PORTS:
            bindings = published.get(f"{port}/tcp") or []
            if not bindings:
                return {}
            ports[port] = int(bindings[0]["HostPort"])
        return ports

    def hosts_by_address(self) -> dict[str, str]:
        """The echo's address on each host's network → that host."""
        self._echo.reload()
        networks = self._echo.attrs["NetworkSettings"]["Networks"]
        by_name = {network.name: host for host, network in self._networks.items()}
        return {
            settings["IPAddress"]: by_name[name]
            for name, settings in networks.items()
            if name in by_name and settings.get("IPAddress")
        }

    def nginx_version(self) -> str:
        exit_code, output = self._nginx.exec_run(["nginx", "-v"])
        text = bytes(output).decode("utf-8", "replace").strip()
        return text.rpartition(": ")[2] if exit_code == 0 else "unknown"

    def close(self) -> None:
        """Remove the containers, then the networks, whatever happened before; what could not
        be removed is reported once everything else was tried. Removals of one kind run
        side by side: each waits on Docker, not on this process."""
        containers = [item for item in (self._nginx, self._echo) if item is not None]
        networks = [item for item in (*self._networks.values(), self._base) if item is not None]
        self._nginx = self._echo = self._base = None
        self._networks = {}
        leftovers = _remove_all(containers, force=True) + _remove_all(networks)
        if leftovers:
            raise NginxgenError(
                "could not remove the test stack (label nginxgen=test): " + "; ".join(leftovers)
            )


def _remove_all(resources: list[Any], **options: bool) -> list[str]:
    """Remove every one of `resources` (containers or networks); what failed, in words."""
    from docker.errors import DockerException, NotFound

    def remove(resource: Any) -> str | None:
        try:
            resource.remove(**options)
        except NotFound:
            return None
        except DockerException as error:
            return f"{resource.name}: {error}"
        return None

    if not resources:
        return []
    with ThreadPoolExecutor(max_workers=len(resources)) as pool:
        return [problem for problem in pool.map(remove, resources) if problem]


def _answers_http(port: int, host: str) -> bool:
    """nginx answers plain HTTP on `port` (Docker's proxy accepts before nginx listens)."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=2) as sock:
            sock.sendall(f"HEAD / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
            return sock.recv(5) == b"HTTP/"
    except OSError:
        return False
