"""Throwaway nginx in Docker: the one place nginxgen starts containers to try a config.

A `Sandbox` is a private user-defined network (so Docker's DNS at 127.0.0.11 answers inside
it) and the containers started on it: nginx of any image with given files, echo backends
answering as given host names (network aliases), ports published on 127.0.0.1 only. It waits
until nginx answers (asking through `nginxgen.nginx.loopback`, the one client), runs commands
in its containers, reads logs, and removes everything it made when it closes: after success,
after an exception, after Ctrl-C. Everything carries the label `nginxgen.sandbox=<run id>`, and
closing removes whatever carries it, so even a container whose creation was interrupted before
Docker answered goes too.

Every Docker call is bounded: the client's HTTP timeout covers the API calls, and commands run
inside a container (`exec`) are bounded twice, by `timeout` in the container where the image
has it and by a deadline on reading their output here (the Docker SDK's `exec_run` waits
forever for a command that hangs).
"""

from __future__ import annotations

import contextlib
import http.client
import io
import math
import os
import select
import signal
import socket
import struct
import tarfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import PurePosixPath
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Protocol, Self, cast

from nginxgen.core.errors import EnvironmentUnavailable, NginxgenError
from nginxgen.nginx.echo import ECHO_CONFIG_PATH, echo_config
from nginxgen.nginx.loopback import LOOPBACK, Answer, reason, request

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container as DockerContainer
    from docker.types import IPAMConfig

# Every resource of one sandbox carries its run id under this label; `nginxgen` says what for.
RUN_LABEL = "nginxgen.sandbox"
PURPOSE_LABEL = "nginxgen"
# One Docker API call (create, start, logs, remove...): the client's HTTP timeout.
CALL_TIMEOUT_SECONDS = 60.0
EXEC_TIMEOUT_SECONDS = 60.0
START_TIMEOUT_SECONDS = 30.0
# What `timeout` in the container exits with when it had to stop the command.
TIMED_OUT = 124
KILLED = 137
# Runs the command under coreutils' or busybox's `timeout` where the image has one.
_BOUNDED = (
    'limit=$1; shift; if command -v timeout >/dev/null 2>&1; then exec timeout -k 2 "$limit" "$@"; '
    'fi; exec "$@"'
)
_WORKER_STARTED = b"start worker process"


class SandboxError(NginxgenError):
    """Docker did not do what the sandbox asked (a container did not start, a removal failed)."""


class SandboxTimeout(SandboxError):
    """A command in a sandbox container, or a wait for one, took longer than allowed."""


class NginxDidNotStart(NginxgenError):
    """The nginx under test exited or never answered: a finding, with its log."""

    exit_code = 1


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    # stdout and stderr, interleaved as the command wrote them.
    output: str


def docker_client(timeout: float = CALL_TIMEOUT_SECONDS) -> DockerClient:
    """A Docker client that answered a ping, or `EnvironmentUnavailable` saying what to do.

    For `DOCKER_HOST=ssh://…` the SDK's paramiko transport: one SSH connection for the whole
    command, a channel per HTTP connection (`use_ssh_client=True` would start an `ssh` process
    for every request instead). Its login failures are paramiko's, not the SDK's.
    """
    import docker
    from docker.errors import DockerException

    host = os.environ.get("DOCKER_HOST", "")
    failures: tuple[type[Exception], ...] = (DockerException,)
    if host.startswith("ssh://"):
        import paramiko

        failures = (DockerException, paramiko.SSHException, OSError)
    try:
        client = docker.from_env(timeout=math.ceil(timeout), use_ssh_client=False)
        client.ping()
    except failures as error:
        raise EnvironmentUnavailable(
            f"Docker is not reachable: {error or type(error).__name__}",
            details=unreachable_advice(host),
        ) from error
    return client


def unreachable_advice(host: str) -> str:
    if host.startswith("ssh://"):
        url = urllib.parse.urlsplit(host)
        login = f"{url.username}@{url.hostname}" if url.username else str(url.hostname)
        port = f"-p {url.port} " if url.port else ""
        return (
            f"DOCKER_HOST is {host}: nginxgen logs in over SSH with a key (~/.ssh/config, "
            "the host in ~/.ssh/known_hosts, no password prompt) and runs `docker system "
            f"dial-stdio` there. Check that `ssh {port}{login} docker info` works as this user."
        )
    return (
        "Start the Docker daemon (or point DOCKER_HOST at one), or test with the "
        "host's nginx instead: `nginxgen check --engine local`."
    )


def ensure_image(client: DockerClient, image: str, *, pull: bool) -> None:
    """Make sure `image` is there, pulled if missing and allowed; else `EnvironmentUnavailable`."""
    from docker.errors import DockerException, ImageNotFound

    try:
        client.images.get(image)
        return
    except ImageNotFound:
        pass
    why = "pulling is off"
    if pull:
        try:
            client.images.pull(image)
            return
        except DockerException as error:
            why = f"pulling it failed: {error}"
    raise EnvironmentUnavailable(
        f"The nginx image {image!r} is not available locally and {why}.",
        details=f"Pull or build it (`docker pull {image}`), or choose another image with "
        "--image, the NGINXGEN_NGINX_IMAGE environment variable or `check.image` in "
        "nginxgen.yaml.",
    )


def tar_of(files: Mapping[str, bytes]) -> bytes:
    """A tar of `files` at their absolute paths (with their directories), to extract at `/`."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        directories = sorted(
            {str(parent) for path in files for parent in PurePosixPath(path).parents} - {"/"}
        )
        for directory in directories:
            info = tarfile.TarInfo(directory.lstrip("/"))
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            archive.addfile(info)
        for path, data in sorted(files.items()):
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size = len(data)
            # Keys too: the master process reads them as root before dropping privileges.
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class _Readable(Protocol):
    def fileno(self) -> int: ...

    def close(self) -> None: ...


class Container:
    """One container of a sandbox."""

    def __init__(self, sandbox: Sandbox, container: DockerContainer, name: str) -> None:
        self._sandbox = sandbox
        self.docker = container
        self.name = name

    def status(self) -> str:
        self.docker.reload()
        return str(self.docker.status)

    def logs(self, tail: int | None = None) -> str:
        logs = self.docker.logs(tail=tail) if tail is not None else self.docker.logs()
        return bytes(logs).decode("utf-8", "replace")

    def port(self, container_port: int, protocol: str = "tcp") -> int:
        """The host port published for `container_port` (on 127.0.0.1 only)."""
        self.docker.reload()
        published = self.published_port(container_port, protocol)
        if published is None:
            raise SandboxError(f"{self.name}: port {container_port}/{protocol} is not published")
        return published

    def published_port(self, container_port: int, protocol: str = "tcp") -> int | None:
        """As last read: the host port for `container_port`; None while there is none (a
        stopped container has none)."""
        published = self.docker.attrs["NetworkSettings"]["Ports"] or {}
        bindings = published.get(f"{container_port}/{protocol}") or []
        if not bindings:
            return None
        if {binding["HostIp"] for binding in bindings} != {LOOPBACK}:
            raise SandboxError(f"{self.name}: port {container_port} published beyond {LOOPBACK}")
        return int(bindings[0]["HostPort"])

    def address(self, network: str | None = None) -> str:
        """The container's address on `network` (the sandbox's own by default)."""
        self.docker.reload()
        networks = self.docker.attrs["NetworkSettings"]["Networks"]
        return str(networks[network or self._sandbox.network]["IPAddress"])

    def addresses(self) -> dict[str, str]:
        """Network name → the container's address on it."""
        self.docker.reload()
        networks = self.docker.attrs["NetworkSettings"]["Networks"]
        return {name: str(item["IPAddress"]) for name, item in networks.items()}

    def put_files(self, files: Mapping[str, bytes]) -> None:
        """`files` at their absolute paths in the container."""
        if files and not self.docker.put_archive("/", tar_of(files)):
            raise SandboxError(f"{self.name}: could not copy files into the container")

    def exec(self, command: Sequence[str], timeout: float = EXEC_TIMEOUT_SECONDS) -> ExecResult:
        """Run `command` in the container; `SandboxTimeout` if it runs longer than `timeout`."""
        api = self._sandbox.client.api
        bounded = ["sh", "-c", _BOUNDED, "sh", str(math.ceil(timeout)), *command]
        exec_id = api.exec_create(self.docker.id, bounded, stdout=True, stderr=True)["Id"]
        deadline = time.monotonic() + timeout + 5
        stream = cast(_Readable, api.exec_start(exec_id, socket=True))
        try:
            raw = _read_all(stream, deadline, f"{self.name}: {' '.join(command)}")
        finally:
            # The SDK keeps the HTTP response on the socket: closing it (first: it flushes
            # the socket) frees the connection.
            response = getattr(stream, "_response", None)
            if response is not None:
                response.close()
            stream.close()
        exit_code = self._exit_code(exec_id, deadline)
        if exit_code in (TIMED_OUT, KILLED):
            raise SandboxTimeout(
                f"{self.name}: `{' '.join(command)}` ran longer than {timeout:g} s"
            )
        return ExecResult(exit_code, demultiplexed(raw).decode("utf-8", "replace"))

    def _exit_code(self, exec_id: str, deadline: float) -> int:
        # The exec's end of output comes a moment before Docker records its exit code.
        while True:
            state = self._sandbox.client.api.exec_inspect(exec_id)
            if not state["Running"] and state["ExitCode"] is not None:
                return int(state["ExitCode"])
            if time.monotonic() > deadline:
                raise SandboxTimeout(f"{self.name}: a command did not end")
            time.sleep(0.01)


def _read_all(stream: _Readable, deadline: float, what: str) -> bytes:
    chunks: list[bytes] = []
    while True:
        remaining = deadline - time.monotonic()
        readable, _, _ = select.select([stream], [], [], max(0.0, remaining))
        if not readable:
            raise SandboxTimeout(f"{what}: no end within the time allowed")
        chunk = _read_some(stream)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _read_some(stream: _Readable) -> bytes:
    if isinstance(stream, socket.socket):
        return stream.recv(1 << 16)
    reader = cast(io.RawIOBase, stream)
    return reader.read(1 << 16) or b""


def demultiplexed(raw: bytes) -> bytes:
    """The payload of Docker's multiplexed stream: frames of an 8-byte header (stream, size)."""
    out = []
    offset = 0
    while offset + 8 <= len(raw):
        (size,) = struct.unpack(">I", raw[offset + 4 : offset + 8])
        out.append(raw[offset + 8 : offset + 8 + size])
        offset += 8 + size
    return b"".join(out)


@dataclass(frozen=True)
class Echo:
    """An echo backend's part: the ports it listens on, the headers it reports back."""

    ports: Sequence[int]
    headers: Sequence[str] = ()


class Sandbox:
    """A private network and the containers started on it, all removed when it closes.

    With `network=False` containers get no network at all (`nginx -t`: nothing resolves, no
    traffic leaves), and nothing can be published. With `fixed_addresses`, the network has a
    subnet of its own, so that a container can be started on a given address.
    """

    def __init__(
        self,
        purpose: str,
        *,
        network: bool = True,
        pull: bool = False,
        fixed_addresses: bool = False,
        client: DockerClient | None = None,
    ) -> None:
        self.purpose = purpose
        self.run_id = uuid.uuid4().hex[:10]
        self.labels = {PURPOSE_LABEL: purpose, RUN_LABEL: self.run_id}
        self.network = f"nginxgen-{purpose}-{self.run_id}" if network else ""
        self._pull = pull
        self._fixed_addresses = fixed_addresses
        self._client = client
        self._ensured: set[str] = set()
        self._networks: list[str] = []
        self._containers: list[str] = []

    @property
    def client(self) -> DockerClient:
        if self._client is None:
            self._client = docker_client()
        return self._client

    def __enter__(self) -> Self:
        try:
            if self.network:
                self.add_network("", name=self.network)
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
        if exc_value is None:
            self.close()
            return
        try:
            self.close()
        except SandboxError as error:
            # The failure in flight says what went wrong; the leftovers are a note to it.
            exc_value.add_note(str(error))

    def add_network(self, purpose: str, *, name: str | None = None) -> str:
        """Another private network of this sandbox; its name."""
        safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in purpose)[:40]
        name = name or f"{self.network or f'nginxgen-{self.purpose}-{self.run_id}'}-{safe}"
        self._networks.append(name)
        ipam = self._own_subnet(name) if self._fixed_addresses else None
        self.client.networks.create(name, driver="bridge", labels=self.labels, ipam=ipam)
        return name

    def _own_subnet(self, name: str) -> IPAMConfig:
        """A subnet given at creation (a fixed address needs one): one Docker picks, free."""
        from docker.types import IPAMConfig, IPAMPool

        probe = f"{name}-probe"
        self._networks.append(probe)
        network = self.client.networks.create(probe, driver="bridge", labels=self.labels)
        try:
            network.reload()
            subnet = network.attrs["IPAM"]["Config"][0]["Subnet"]
        finally:
            network.remove()
            self._networks.remove(probe)
        return IPAMConfig(pool_configs=[IPAMPool(subnet=subnet)])

    def start(
        self,
        image: str,
        name: str,
        *,
        files: Mapping[str, bytes] | None = None,
        entrypoint: Sequence[str] | None = None,
        command: Sequence[str] | None = None,
        aliases: Sequence[str] = (),
        hostname: str | None = None,
        address: str | None = None,
        networks: Sequence[str] = (),
        publish: Sequence[int] = (),
        publish_udp: Sequence[int] = (),
        volumes: Mapping[str, str] | None = None,
        read_only_volumes: Mapping[str, str] | None = None,
        environment: Mapping[str, str] | None = None,
        sysctls: Mapping[str, str] | None = None,
        init: bool = False,
        labels: Mapping[str, str] | None = None,
    ) -> Container:
        """A container of `image` with `files` at their absolute paths, started: reachable as
        `aliases` on the sandbox's network (at `address`, with `fixed_addresses`), also
        joined to `networks`, `publish` (TCP) and
        `publish_udp` on 127.0.0.1, `volumes` bind-mounted read-write (host → container),
        `read_only_volumes` read-only, with `environment` variables and extra `labels` (the
        sandbox's own label always stays, so it is removed with the sandbox)."""
        self._ensure(image)
        full_name = f"nginxgen-{self.purpose}-{self.run_id}-{name}"
        # Any free host port (None), which the SDK's types do not foresee.
        ports: dict[str, object] = {f"{port}/tcp": (LOOPBACK, None) for port in publish}
        ports |= {f"{port}/udp": (LOOPBACK, None) for port in publish_udp}
        options: dict[str, object] = {
            "name": full_name,
            "hostname": hostname,
            "labels": {**(labels or {}), **self.labels},
            "ports": ports or None,
            "init": init or None,
            "sysctls": dict(sysctls) if sysctls else None,
            "volumes": _binds(volumes, "rw") | _binds(read_only_volumes, "ro") or None,
            "environment": dict(environment) if environment else None,
        }
        if entrypoint is not None:
            options["entrypoint"] = list(entrypoint)
        if command is not None:
            options["command"] = list(command)
        options |= self._network_options(aliases, address)
        # Registered before it exists, so an interrupted creation is cleaned up too.
        self._containers.append(full_name)
        created = self.client.containers.create(image, **options)  # type: ignore[arg-type]
        container = Container(self, created, full_name)
        container.put_files(files or {})
        for network in networks:
            self.client.api.connect_container_to_network(full_name, network)
        created.start()
        return container

    def _network_options(self, aliases: Sequence[str], address: str | None) -> dict[str, object]:
        """On the sandbox's network as `aliases` (at `address`); no network if it has none."""
        if not self.network:
            return {"network_disabled": True}
        endpoint = self.client.api.create_endpoint_config(
            aliases=list(aliases) or None, ipv4_address=address
        )
        return {"network": self.network, "networking_config": {self.network: endpoint}}

    def start_nginx(
        self,
        image: str,
        files: Mapping[str, bytes],
        *,
        name: str = "nginx",
        ready_host: str | None = None,
        ready_path: str = "/",
        accept: Callable[[Answer], bool] = lambda answer: True,
        publish: Sequence[int] = (80, 443),
        publish_udp: Sequence[int] = (),
        volumes: Mapping[str, str] | None = None,
        sysctls: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> Container:
        """nginx of `image` (its own command) with `files`, ports published on 127.0.0.1; with
        `ready_host`, waits until it answers on port 80 as that host in a way `accept` takes."""
        container = self.start(
            image,
            name,
            files=files,
            publish=publish,
            publish_udp=publish_udp,
            volumes=volumes,
            sysctls=sysctls,
            labels=labels,
        )
        if ready_host is not None:
            self.wait_until_answering(container, ready_host, ready_path, accept=accept)
        return container

    def start_echo(
        self,
        image: str,
        name: str,
        echo: Echo,
        *,
        aliases: Sequence[str] = (),
        hostname: str | None = None,
    ) -> Container:
        """An echo backend (`nginxgen.nginx.echo`) of `image`, reachable as `aliases`; returns
        once its nginx runs a worker."""
        config = echo_config(echo.ports, echo.headers).encode()
        container = self.start(
            image,
            name,
            files={ECHO_CONFIG_PATH: config},
            entrypoint=["nginx", "-c", ECHO_CONFIG_PATH, "-g", "daemon off;"],
            command=[],
            aliases=aliases,
            hostname=hostname,
        )
        self.wait_for_log(container, _WORKER_STARTED, "the echo backend")
        return container

    def wait_for_log(self, container: Container, marker: bytes, what: str) -> None:
        """Until `marker` shows in the container's log; `SandboxError` with it if it exits."""
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while marker not in container.docker.logs():
            if container.status() == "exited" or time.monotonic() > deadline:
                raise SandboxError(f"{what} did not start:", details=container.logs())
            time.sleep(0.05)

    def wait_until_answering(
        self,
        container: Container,
        host: str,
        path: str = "/",
        *,
        port: int = 80,
        tls: bool = False,
        accept: Callable[[Answer], bool] = lambda answer: True,
        timeout: float = START_TIMEOUT_SECONDS,
    ) -> Answer:
        """Until nginx answers `path` as `host` on `port` (HTTPS with `tls`) in a way `accept`
        takes (Docker's port proxy accepts connections before nginx listens);
        `NginxDidNotStart` if it exits or does not answer in time."""
        deadline = time.monotonic() + timeout
        last = "nothing yet"
        while True:
            if container.status() == "exited":
                raise NginxDidNotStart("nginx did not start:", details=container.logs())
            published = container.published_port(port)
            try:
                if published is not None:
                    answer = request(published, host, path, tls=tls, timeout=2)
                    if accept(answer):
                        return answer
                    last = f"HTTP {answer.status}: {answer.body[:80]!r}"
            except (OSError, http.client.HTTPException) as error:
                last = reason(error)
            if time.monotonic() > deadline:
                raise NginxDidNotStart(f"nginx did not answer within {timeout:g} s ({last})")
            time.sleep(0.05)

    def connect(self, container: Container, network: str, aliases: Sequence[str] = ()) -> None:
        api = self.client.api
        api.connect_container_to_network(container.name, network, aliases=list(aliases))

    def disconnect(self, container: Container, network: str) -> None:
        self.client.api.disconnect_container_from_network(container.name, network)

    def remove(self, container: Container) -> None:
        container.docker.remove(force=True)
        with contextlib.suppress(ValueError):
            self._containers.remove(container.name)

    def close(self) -> None:
        """Remove every container, then every network, of this sandbox, whatever happened
        before; a Ctrl-C meanwhile waits until that is done. What could not be removed is
        reported once everything else was tried."""
        with interrupts_deferred():
            if self._client is None and not self._containers and not self._networks:
                return
            leftovers = self._remove_containers() + self._remove_networks()
            self._containers, self._networks = [], []
        if leftovers:
            raise SandboxError(
                f"could not remove the sandbox (label {RUN_LABEL}={self.run_id}): "
                + "; ".join(leftovers)
            )

    def _remove_containers(self) -> list[str]:
        from docker.errors import DockerException

        api = self.client.api
        try:
            # `sparse`: the listing alone, not one more request per container.
            found = self.client.containers.list(
                all=True, sparse=True, filters=_label_filter(self.run_id)
            )
        except DockerException as error:
            return [f"listing containers: {error}"]
        # By the names given too: one whose creation was interrupted may show only now.
        names = {str(item.attrs["Names"][0]).lstrip("/") for item in found}
        names |= set(self._containers)
        return _each(sorted(names), lambda name: api.remove_container(name, force=True))

    def _remove_networks(self) -> list[str]:
        from docker.errors import DockerException

        api = self.client.api
        try:
            found = self.client.networks.list(filters=_label_filter(self.run_id))
        except DockerException as error:
            return [f"listing networks: {error}"]
        names = sorted({str(item.name) for item in found} | set(self._networks))
        return _each(names, api.remove_network)

    def _ensure(self, image: str) -> None:
        if image not in self._ensured:
            ensure_image(self.client, image, pull=self._pull)
            self._ensured.add(image)


def _binds(volumes: Mapping[str, str] | None, mode: str) -> dict[str, dict[str, str]]:
    return {host: {"bind": path, "mode": mode} for host, path in (volumes or {}).items()}


def _each(names: Sequence[str], remove: Callable[[str], None]) -> list[str]:
    """`remove` each of `names` side by side (each waits on Docker, not on this process);
    what failed, in words. One already gone is not a failure."""
    from docker.errors import DockerException, NotFound

    def one(name: str) -> str | None:
        try:
            remove(name)
        except NotFound:
            return None
        except DockerException as error:
            return f"{name}: {error}"
        return None

    if not names:
        return []
    with ThreadPoolExecutor(max_workers=min(len(names), 8)) as pool:
        return [problem for problem in pool.map(one, names) if problem]


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Ctrl-C (SIGINT) waits until the block is done, then raises `KeyboardInterrupt`; only the
    main thread can install signal handlers, elsewhere the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def remember(number: int, frame: FrameType | None) -> None:
        received.append(number)

    previous = signal.signal(signal.SIGINT, remember)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


def labelled(client: DockerClient, run_id: str) -> list[str]:
    """The containers and networks still carrying sandbox run `run_id`'s label (none, once it
    closed): what a test checks."""
    label = _label_filter(run_id)
    containers = [
        f"container {item.name}" for item in client.containers.list(all=True, filters=label)
    ]
    networks = [f"network {item.name}" for item in client.networks.list(filters=label)]
    return containers + networks


def _label_filter(run_id: str) -> dict[str, str | list[str] | bool]:
    return {"label": f"{RUN_LABEL}={run_id}"}
