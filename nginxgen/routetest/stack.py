"""The stack `nginxgen test` and `explain` run: the nginx under test and one echo backend, in a
`Sandbox`, and what goes into it (the output, placeholder certificates, htpasswd files, static
markers; the services' hosts).

The echo answers for every service host. All aliases of one container on one network resolve
to one address, so the echo could not tell them apart: each service host gets a private network
of its own on which only the echo carries that name, and nginx joins all of them. Docker's DNS
answers a name with the echo's address on that name's network, and the address the request
arrives at names the host. Taking a host down is leaving its network: the name stops
resolving, as it does when a container stops. Everything is removed when the stack closes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import Self

from nginxgen.core.facts import CONF_D, UNKNOWN_NAME, conf_d_name
from nginxgen.generation.loader import LoadedEnvironment
from nginxgen.generation.models import Settings
from nginxgen.generation.pipeline import Generated
from nginxgen.generation.plan_types import Plan
from nginxgen.generation.sections import Access
from nginxgen.nginx.placeholder_certs import find_tls_files, placeholder_files
from nginxgen.nginx.sandbox import (
    START_TIMEOUT_SECONDS,
    Container,
    Echo,
    NginxDidNotStart,
    Sandbox,
)
from nginxgen.routetest.cases import ServiceRef
from nginxgen.routetest.client import static_marker

HTTP_PORTS = (80, 443)
NGINX_LOG = "/tmp/nginxgen-test-nginx.log"
START_NGINX = f'nginx </dev/null >"{NGINX_LOG}" 2>&1; code=$?; cat "{NGINX_LOG}"; exit "$code"'
_NGINX_PROCESSES = 'for f in /proc/[0-9]*/cmdline; do echo "$f $(tr "\\0" " " < "$f")"; done'
PLAIN_PASSWORD = "{PLAIN}"


class TestStack:
    """nginx from `image` with `files` at their absolute paths (ports 80 and 443 published on
    127.0.0.1), and an echo of the same image (`echo`), named as every host of `hosts` on that
    host's own network."""

    __test__ = False  # not a pytest class

    def __init__(
        self, image: str, files: Mapping[str, bytes], echo: Echo, hosts: Iterable[str]
    ) -> None:
        self.image = image
        self.files = dict(files)
        self.echo = echo
        self.hosts = tuple(sorted(set(hosts)))
        self.sandbox = Sandbox("test", pull=True)
        self._networks: dict[str, str] = {}
        self._echo: Container | None = None
        self._nginx: Container | None = None
        self._up: set[str] = set()

    def __enter__(self) -> Self:
        self.sandbox.__enter__()
        try:
            self._start()
        except BaseException as error:
            self.sandbox.__exit__(type(error), error, error.__traceback__)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.sandbox.__exit__(exc_type, exc_value, traceback)

    def _start(self) -> None:
        sandbox = self.sandbox
        for host in self.hosts:
            self._networks[host] = sandbox.add_network(host)
        self._echo = sandbox.start_echo(self.image, "echo", self.echo)
        # The container only holds nginx, which is started and stopped inside it: restarting
        # a container re-creates its endpoints on every network, ten times slower. `init`
        # reaps the stopped masters.
        self._nginx = sandbox.start(
            self.image,
            "nginx",
            files=self.files,
            entrypoint=["sleep"],
            command=["86400"],
            init=True,
            networks=list(self._networks.values()),
            publish=HTTP_PORTS,
        )

    def _containers(self) -> tuple[Container, Container]:
        if self._nginx is None or self._echo is None:
            raise RuntimeError("the test stack is not open")
        return self._nginx, self._echo

    def set_up_hosts(self, up: Iterable[str]) -> None:
        """Make exactly the hosts in `up` reachable (the others' names stop resolving)."""
        _, echo = self._containers()
        wanted = set(up)
        for host in self.hosts:
            if host in wanted and host not in self._up:
                self.sandbox.connect(echo, self._networks[host], aliases=[host])
            elif host not in wanted and host in self._up:
                self.sandbox.disconnect(echo, self._networks[host])
        self._up = wanted & set(self.hosts)

    def start_nginx(self, probe_host: str) -> dict[int, int]:
        """Start nginx afresh (stopping a running one first), so it starts with nothing
        resolved: a reload would not do, since upstreams with `resolve` keep their addresses
        in shared memory across reloads. Waits until it answers on port 80 as `probe_host`;
        the published host port of each of 80 and 443."""
        nginx, _ = self._containers()
        if self._nginx_processes():
            self._stop_nginx()
        # nginx keeps its stderr as the error log: a file, not the exec's stream, which
        # Docker would otherwise drain for two more seconds after the command returned.
        started = nginx.exec(["sh", "-c", START_NGINX], timeout=START_TIMEOUT_SECONDS)
        if started.exit_code != 0:
            raise NginxDidNotStart("nginx did not start:", details=started.output)
        self.sandbox.wait_until_answering(nginx, probe_host)
        return {port: nginx.port(port) for port in HTTP_PORTS}

    def _stop_nginx(self) -> None:
        nginx, _ = self._containers()
        nginx.exec(["sh", "-c", f'nginx -s stop >>"{NGINX_LOG}" 2>&1'])
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while self._nginx_processes():
            if time.monotonic() > deadline:
                raise NginxDidNotStart("nginx did not stop")
            time.sleep(0.02)

    def _nginx_processes(self) -> set[str]:
        """The pids of nginx's processes, from /proc (images need not have `ps`)."""
        nginx, _ = self._containers()
        output = nginx.exec(["sh", "-c", _NGINX_PROCESSES]).output
        return {line.split("/")[2] for line in output.splitlines() if " nginx: " in line}

    def hosts_by_address(self) -> dict[str, str]:
        """The echo's address on each host's network → that host."""
        _, echo = self._containers()
        by_network = {network: host for host, network in self._networks.items()}
        return {
            address: by_network[network]
            for network, address in echo.addresses().items()
            if network in by_network and address
        }

    def nginx_version(self) -> str:
        nginx, _ = self._containers()
        result = nginx.exec(["nginx", "-v"])
        return result.output.strip().rpartition(": ")[2] if result.exit_code == 0 else "unknown"


def open_stack(
    generated: Generated, settings: Settings, image: str, headers: Iterable[str]
) -> TestStack:
    """The stack for `generated`: its output in nginx of `image`, the echo answering every
    service's hosts and reporting `headers` back."""
    refs = services(generated)
    echo = Echo(tuple(ref.port for ref in refs), tuple(headers))
    hosts = {address for ref in refs for address in ref.addresses}
    return TestStack(image, stack_files(generated, settings), echo, hosts)


def services(generated: Generated) -> list[ServiceRef]:
    return [
        ServiceRef(environment.name, name, service.addresses, service.port)
        for environment in generated.environments
        for name, service in environment.model.services.items()
    ]


def probe_host(generated: Generated) -> str:
    """A name nginx serves, to ask whether it answers yet."""
    primary = generated.environments[0].model.primary_domain or UNKNOWN_NAME
    return primary.replace("*", "nginxgen-test", 1)


def _htpasswd_paths(environment: LoadedEnvironment) -> set[str]:
    accesses: Iterable[Access | None] = (
        environment.model.access,
        *(route.access for route in environment.model.routes),
    )
    return {
        access.basic_auth.htpasswd
        for access in accesses
        if access is not None and access.basic_auth is not None
    }


def stack_files(generated: Generated, settings: Settings) -> dict[str, bytes]:
    """What the nginx under test needs at absolute paths: the output in conf.d, placeholder
    certificates, htpasswd files accepting the tests' users, a marker file in static roots."""
    files = {f"{CONF_D}/{conf_d_name(Path(settings.output).name)}": generated.text.encode("utf-8")}
    files.update(placeholder_files(find_tls_files([generated.text])))
    # mTLS: the real client CA where this machine has it, so a test's client certificate can
    # verify (a placeholder CA signed nothing: without the real one, expect 400).
    files.update(client_ca_files(generated.plan))
    users: dict[str, set[str]] = {}
    for environment in generated.environments:
        credentials = {test.auth for test in environment.model.tests if test.auth}
        for path in _htpasswd_paths(environment):
            users.setdefault(path, set()).update(credentials)
        for route in environment.model.routes:
            if route.static is None:
                continue
            root = route.static.root.rstrip("/")
            if route.match == "regex":
                name = "/index.html"
            elif route.path.endswith("/"):
                name = f"{route.path}index.html"
            else:
                name = route.path
            files.setdefault(f"{root}{name}", static_marker(route.static.root))
    for path, credentials in users.items():
        lines = []
        for credential in sorted(credentials):
            user, _, password = credential.partition(":")
            lines.append(f"{user}:{PLAIN_PASSWORD}{password}\n")
        files[path] = "".join(lines).encode()
    return {str(PurePosixPath(path)): data for path, data in files.items()}


def client_ca_files(plan: Plan) -> dict[str, bytes]:
    cas = {env.tls.client_ca for env in plan.environments if env.tls and env.tls.client_ca}
    return {path: Path(path).read_bytes() for path in sorted(cas) if Path(path).is_file()}
