"""`nginxgen import --verify`: the original and the generated config, each in a real nginx.

Both run side by side in one `Sandbox` (a private Docker network), with echo backends under the
names the original proxies to (network aliases), every TLS file replaced by a placeholder. The same
requests go to both: each location path of the original on each server name and port. Their
status, redirect target and what the backend received must agree. The only module of `adopt`
that uses Docker; it starts nothing it does not remove.
"""

from __future__ import annotations

import http.client
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nginxgen.adopt.compare import ANY_NAME, view
from nginxgen.adopt.inputs import placeholder_inputs
from nginxgen.core.errors import UsageError
from nginxgen.core.facts import CONF_D, UNKNOWN_NAME, proxy_image
from nginxgen.core.versions import DEFAULT_TARGET
from nginxgen.nginx.config import ParsedConfig
from nginxgen.nginx.echo import ECHO_HEADER, parse_echo
from nginxgen.nginx.loopback import request
from nginxgen.nginx.placeholder_certs import find_tls_files, placeholder_files
from nginxgen.nginx.sandbox import Container, Echo, NginxDidNotStart, Sandbox

REQUEST_TIMEOUT_SECONDS = 5.0
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


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
    # The run's private network; its containers' names begin with it.
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
    result = Verification(chosen)
    with Sandbox("import-verify", pull=True) as sandbox:
        result.network = sandbox.network
        for index, (host, ports) in enumerate(sorted(backends(config).items())):
            # The echo backends are the same nginx image with an echo config: nothing else to
            # pull, and it works with the official images as with Debian's.
            sandbox.start_echo(
                chosen, f"echo-{index}", Echo(tuple(ports)), aliases=[host], hostname=host
            )
        requests = probes(config)
        ready = requests[0] if requests else None
        # Every file the original reads, as a placeholder; both configs get the same ones.
        inputs = placeholder_inputs(config)
        before = _start(sandbox, "original", chosen, originals, ready, inputs)
        generated = {f"{CONF_D}/nginx-ssl.conf": rendered}
        after = _start(sandbox, "generated", chosen, generated, ready, inputs)
        for probe in requests:
            old, new = _ask(before, probe), _ask(after, probe)
            if old != new and old.location and new.location:
                # http://www → https://www → https://apex is one hop to nginxgen: the same
                # place, compared where each chain of the config's own redirects ends.
                old, new = _last_hop(before, old), _last_hop(after, new)
            result.results.append((probe, old, new))
        result.errors = {"original": _error_lines(before), "generated": _error_lines(after)}
    return result


def _error_lines(container: Container) -> list[str]:
    logs = container.logs()
    return [line for line in logs.splitlines() if re.search(r"\[(emerg|alert|crit|error)\]", line)]


def _start(
    sandbox: Sandbox,
    name: str,
    image: str,
    files: Mapping[str, str],
    ready: Probe | None,
    inputs: Mapping[str, bytes],
) -> Container:
    """nginx with `files` and placeholders for the TLS files and includes they name, once it
    answers `ready` (Docker's port proxy accepts connections before nginx listens)."""
    placed = {**inputs, **{path: text.encode() for path, text in files.items()}}
    placed.update(placeholder_files(find_tls_files(text for text in files.values())))
    for path in _missing_includes(files):
        placed.setdefault(path, b"")
    container = sandbox.start_nginx(image, placed, name=name)
    if ready is not None:
        try:
            sandbox.wait_until_answering(
                container, ready.name, ready.path, port=_port_of(ready), tls=ready.port == 443
            )
        except NginxDidNotStart as error:
            message = f"nginx did not start in {image}: {error}"
            raise UsageError(message, details=error.details) from error
    return container


def _missing_includes(files: Mapping[str, str]) -> list[str]:
    """Absolute include paths no given file provides (certbot's options file, say): empty."""
    included = re.findall(r"^\s*include\s+(/[^\s;*?]+)\s*;", "\n".join(files.values()), re.M)
    return [path for path in included if path not in files and not path.endswith(".types")]


def _port_of(probe: Probe) -> int:
    return probe.port if probe.port in (80, 443) else 80


def _ask(container: Container, probe: Probe) -> Answer:
    try:
        answer = request(
            container.port(_port_of(probe)),
            probe.name,
            probe.path,
            tls=probe.port == 443,
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
    # `Refused` is an OSError too: a closed connection or a rejected handshake.
    except (OSError, http.client.HTTPException) as error:
        return Answer(0, "", f"no answer: {type(error).__name__}")
    received = parse_echo(answer.body) if ECHO_HEADER.lower() in answer.headers else None
    said = (
        f"backend={received.hostname} uri={received.uri} host={received.headers.get('host', '')}"
        if received
        else ""
    )
    return Answer(answer.status, answer.headers.get("location", ""), said)
