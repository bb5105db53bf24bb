"""`nginxgen import --verify`: the original and the generated config, each in a real nginx.

Both run side by side on a private Docker network, with echo backends under the names the
original proxies to (network aliases), every TLS file replaced by a placeholder. The same
requests go to both: each location path of the original on each server name and port. Their
status, redirect target and what the backend received must agree. The only module of `adopt`
that uses Docker; it starts nothing it does not remove.
"""

from __future__ import annotations

import http.client
import re
import socket
import ssl
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from nginxgen.adopt.compare import ANY_NAME, view
from nginxgen.adopt.inputs import placeholder_inputs
from nginxgen.core.errors import UsageError
from nginxgen.core.facts import CONF_D, UNKNOWN_NAME, proxy_image
from nginxgen.core.versions import DEFAULT_TARGET
from nginxgen.nginx.config import ParsedConfig
from nginxgen.nginx.docker_engine import docker_client, ensure_image, tar_of
from nginxgen.nginx.placeholder_certs import find_tls_files, placeholder_files

LOOPBACK = "127.0.0.1"
START_TIMEOUT_SECONDS = 30.0
REQUEST_TIMEOUT_SECONDS = 5.0
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
RECEIVED = re.compile(r"backend=(?P<backend>\S*) uri=(?P<uri>\S*) host=(?P<host>\S*)")


@dataclass(frozen=True)
class Probe:
    name: str
    port: int
    path: str

    def __str__(self) -> str:
        scheme = "https" if self.port == 443 else "http"
        return f"{scheme}://{self.name}{self.path}"


@dataclass(frozen=True)
class Answer:
    status: int
    location: str
    received: str

    def __str__(self) -> str:
        text = str(self.status)
        text += f" → {self.location}" if self.location else ""
        return text + (f" ({self.received})" if self.received else "")


@dataclass
class Verification:
    image: str
    # The private network of the run; its containers carry it as the label `nginxgen.network`.
    network: str = ""
    results: list[tuple[Probe, Answer, Answer]] = field(default_factory=list)
    # nginx's own [error]/[emerg] lines of each config's run: why answers differ.
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def differing(self) -> list[tuple[Probe, Answer, Answer]]:
        return [result for result in self.results if result[1] != result[2]]

    @property
    def ok(self) -> bool:
        return bool(self.results) and not self.differing

    def lines(self) -> list[str]:
        out = [f"verified in {self.image}: {len(self.results)} request(s) to both configs"]
        out += [
            f"  {probe}: original {before}, generated {after}"
            for probe, before, after in self.differing
        ]
        verdict = "every answer the same" if self.ok else f"{len(self.differing)} differ(s)"
        out.append(f"  {verdict}")
        if not self.ok:
            for which, lines in sorted(self.errors.items()):
                out += [f"  nginx ({which} config): {line}" for line in lines[-10:]]
        return out

    def as_document(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "ok": self.ok,
            "requests": [
                {"url": str(probe), "original": str(before), "generated": str(after)}
                for probe, before, after in self.results
            ],
        }


def probes(config: ParsedConfig) -> list[Probe]:
    """Each location path of the original on each of its server names and ports."""
    found: list[Probe] = []
    for key, server in view(config).items():
        name, _, port = key.rpartition(":")
        if name == ANY_NAME:
            name = UNKNOWN_NAME  # a name nobody serves reaches the catch-all
        elif "*" in name:
            continue
        paths = ["/"] if server.redirect else []
        for location in server.locations:
            match, _, path = location.partition(" ")
            if match == "regex":
                sample = regex_sample(path)
                paths += [sample] if sample else []
            elif match == "exact":
                paths.append(path)
            else:
                paths += [path, f"{path}verify"] if path.endswith("/") else [path]
        found += [Probe(name, int(port), path) for path in dict.fromkeys(paths)]
    return found


def regex_sample(pattern: str) -> str | None:
    """A path the location regex matches, made by the simplest reading of it; None if unsure."""
    text = pattern.removeprefix("(?i)").lstrip("^").rstrip("$")
    text = re.sub(r"\(([^()|]*)(\|[^()]*)?\)", r"\1", text)  # a group: its first alternative
    text = re.sub(r"\[([^\]])[^\]]*\]", r"\1", text)  # a class: its first character
    text = text.replace(r"\d", "1").replace(".*", "x").replace(".+", "x")
    text = re.sub(r"[+*?]", "", text).replace("\\", "")
    sample = text if text.startswith("/") else f"/verify{text}"
    flags = re.IGNORECASE if pattern.startswith("(?i)") else 0
    return sample if re.search(pattern.removeprefix("(?i)"), sample, flags) else None


def backends(config: ParsedConfig) -> dict[str, set[int]]:
    """The hosts the original proxies to and the ports each must answer on."""
    hosts: dict[str, set[int]] = {}
    for server in view(config).values():
        for location in server.locations.values():
            does = location.does
            if does.kind != "proxy" or does.scheme != "http":
                continue
            for target in does.addresses:
                host, _, port = target.rpartition(":")
                hosts.setdefault(host, set()).add(int(port))
    return hosts


def backend_config(ports: set[int]) -> str:
    listens = "".join(f"    listen {port};\n" for port in sorted(ports))
    return (
        "server {\n" + listens + "    location / {\n        default_type text/plain;\n"
        '        return 200 "backend=$hostname uri=$request_uri host=$http_host '
        'proto=$http_x_forwarded_proto upgrade=$http_upgrade\\n";\n    }\n}\n'
    )


REDIRECT_TARGET = re.compile(r"(?P<scheme>https?)://(?P<host>[^/:]+)(?P<path>/.*)?")
MAX_HOPS = 3


def _last_hop(container: Any, answer: Answer) -> Answer:
    """The last redirect of the chain that starts with `answer`, following the redirects the
    same nginx answers (by their Host); the answer itself when the next is no redirect."""
    for _ in range(MAX_HOPS):
        target = REDIRECT_TARGET.fullmatch(answer.location)
        if target is None:
            break
        port = 443 if target["scheme"] == "https" else 80
        following = _ask(container, Probe(target["host"], port, target["path"] or "/"))
        if not following.location or following.status not in REDIRECT_STATUSES:
            break
        answer = following
    return answer


def original_files(config: ParsedConfig, texts: Mapping[str, str]) -> dict[str, str]:
    """Where the original's files go in the container: a fragment into conf.d, a dump's files
    at their own paths."""
    if config.context == "http" and len(texts) == 1:
        (text,) = texts.values()
        return {f"{CONF_D}/original.conf": text}
    if all(path.startswith("/") for path in texts):
        return dict(texts)
    raise UsageError(
        "--verify runs a conf.d file or an `nginx -T` dump (give the dump on stdin: "
        "`nginx -T | nginxgen import - --verify`)"
    )


def verify_import(
    config: ParsedConfig, texts: Mapping[str, str], rendered: str, image: str | None
) -> Verification:
    chosen = image or proxy_image(None, DEFAULT_TARGET)
    originals = original_files(config, texts)
    client = docker_client()
    ensure_image(client, chosen, pull=True)
    result = Verification(chosen)
    with _network(client) as network:
        result.network = network.name
        for host, ports in sorted(backends(config).items()):
            # The echo backends are the same nginx image with an echo config: nothing else to
            # pull, and it works with the official images as with Debian's.
            _start(
                client,
                network,
                chosen,
                {"/etc/nginx/conf.d/backend.conf": backend_config(ports)},
                host=host,
            )
        requests = probes(config)
        ready = requests[0] if requests else None
        # Every file the original reads, as a placeholder; both configs get the same ones.
        inputs = placeholder_inputs(config)
        before = _start(
            client, network, chosen, originals, publish=True, ready=ready, inputs=inputs
        )
        generated = {f"{CONF_D}/nginx-ssl.conf": rendered}
        after = _start(client, network, chosen, generated, publish=True, ready=ready, inputs=inputs)
        for probe in requests:
            old, new = _ask(before, probe), _ask(after, probe)
            if old != new and old.location and new.location:
                # http://www → https://www → https://apex is one hop to nginxgen: the same
                # place, compared where each chain of the config's own redirects ends.
                old, new = _last_hop(before, old), _last_hop(after, new)
            result.results.append((probe, old, new))
        result.errors = {"original": _error_lines(before), "generated": _error_lines(after)}
    return result


def _error_lines(container: Any) -> list[str]:
    logs = bytes(container.logs()).decode("utf-8", "replace")
    return [line for line in logs.splitlines() if re.search(r"\[(emerg|alert|crit|error)\]", line)]


@contextmanager
def _network(client: Any) -> Iterator[Any]:
    network = client.networks.create(f"nginxgen-import-{uuid.uuid4().hex[:12]}", driver="bridge")
    containers: list[Any] = []
    network.started = containers
    try:
        yield network
    finally:
        for container in containers:
            with suppress(Exception):
                container.remove(force=True)
        network.remove()


def _start(
    client: Any,
    network: Any,
    image: str,
    files: Mapping[str, str],
    *,
    host: str | None = None,
    publish: bool = False,
    ready: Probe | None = None,
    inputs: Mapping[str, bytes] | None = None,
) -> Any:
    placed = {**(inputs or {}), **{path: text.encode() for path, text in files.items()}}
    if publish:
        tls = find_tls_files(text for text in files.values())
        placed.update(placeholder_files(tls))
        for path in _missing_includes(files):
            placed.setdefault(path, b"")
    aliases = [host] if host else []
    container = client.containers.create(
        image,
        hostname=host,
        network=network.name,
        networking_config={network.name: client.api.create_endpoint_config(aliases=aliases)},
        ports={"80/tcp": (LOOPBACK, None), "443/tcp": (LOOPBACK, None)} if publish else None,
        labels={"nginxgen": "import-verify", "nginxgen.network": network.name},
    )
    network.started.append(container)
    container.put_archive("/", tar_of(placed))
    container.start()
    if publish:
        _wait_until_listening(container, ready)
    else:
        _wait_until_running(container)
    return container


def _wait_until_running(container: Any) -> None:
    """A backend is up once Docker says so: its alias then resolves, which the original's static
    upstreams need at startup (a backend that exited would take its alias with it)."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        container.reload()
        if container.status == "running":
            return
        if container.status == "exited" or time.monotonic() >= deadline:
            logs = bytes(container.logs()).decode("utf-8", "replace")
            raise UsageError(f"echo backend did not start in {container.image.tags}:", details=logs)
        time.sleep(0.1)


def _missing_includes(files: Mapping[str, str]) -> list[str]:
    """Absolute include paths no given file provides (certbot's options file, say): empty."""
    included = re.findall(r"^\s*include\s+(/[^\s;*?]+)\s*;", "\n".join(files.values()), re.M)
    return [path for path in included if path not in files and not path.endswith(".types")]


def _wait_until_listening(container: Any, ready: Probe | None) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        container.reload()
        if container.status == "exited":
            logs = bytes(container.logs()).decode("utf-8", "replace")
            raise UsageError(f"nginx did not start in {container.image.tags}:", details=logs)
        # Docker's port proxy accepts connections before nginx listens: wait for an answer.
        with suppress(KeyError, TypeError, IndexError):
            if ready is None or _ask(container, ready).status:
                return
        if time.monotonic() >= deadline:
            raise UsageError("nginx did not listen within 30 s")
        time.sleep(0.2)


def _port(container: Any, port: int) -> int:
    return int(container.attrs["NetworkSettings"]["Ports"][f"{port}/tcp"][0]["HostPort"])


def _ask(container: Any, probe: Probe) -> Answer:
    port = _port(container, probe.port if probe.port in (80, 443) else 80)
    sock = socket.create_connection((LOOPBACK, port), timeout=REQUEST_TIMEOUT_SECONDS)
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=REQUEST_TIMEOUT_SECONDS)
    try:
        if probe.port == 443:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE  # placeholders
            sock = context.wrap_socket(sock, server_hostname=probe.name)
        connection.sock = sock
        connection.request("GET", probe.path, headers={"Host": probe.name})
        response = connection.getresponse()
        body = response.read().decode("utf-8", "replace")
        received = RECEIVED.search(body)
        return Answer(
            response.status,
            response.getheader("Location") or "",
            received.group(0) if received else "",
        )
    except (OSError, http.client.HTTPException) as error:
        return Answer(0, "", f"no answer: {type(error).__name__}")
    finally:
        connection.close()
        sock.close()
