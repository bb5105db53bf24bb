"""nginx inside the live proxy container: test a candidate beside the live config, swap it in,
reload and verify that the reload took, probe the sites, and keep deployed versions.

Each step is one function over a `ProxyContainer`; what a step's output means is decided in
`live.py`. The order, and what to do when a step fails, is the commands' business.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Sequence
from dataclasses import dataclass

from nginxgen.docker.live import (
    MAIN_CONFIG,
    TEST_MAIN_CONFIG,
    LiveLayout,
    ProbeResult,
    ProbeTarget,
    Refused,
    Workers,
    classify,
    dump_holds,
    dumped_files,
    reload_failures,
    reload_took,
    staged_main_config,
    version_name,
    versions,
    versions_to_remove,
    worker_pids,
)
from nginxgen.docker.proxy import ProxyContainer
from nginxgen.nginx.messages import NginxMessage, nginx_version, parse_messages

RELOAD_WAIT_SECONDS = 10.0
PROBE_TIMEOUT_SECONDS = 10
# `pid ppid title` of every process: the parent from /proc/PID/stat (its 4th field; nginx's
# `comm` has no space), the title from its cmdline.
_WORKERS = (
    'for d in /proc/[0-9]*; do t=$(tr "\\000" " " < "$d/cmdline" 2>/dev/null) '
    '&& read -r _ _ _ p _ < "$d/stat" 2>/dev/null '
    '&& printf "%s %s %s\\n" "${d#/proc/}" "$p" "$t"; done; exit 0'
)
_HTTP_PROBE = (
    'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1; '
    'printf "GET / HTTP/1.1\\r\\nHost: %s\\r\\nUser-Agent: nginxgen-deploy\\r\\n'
    'Connection: close\\r\\n\\r\\n" "$2" >&3; cat <&3'
)
_HTTPS_PROBE = (
    'printf "GET / HTTP/1.1\\r\\nHost: %s\\r\\nUser-Agent: nginxgen-deploy\\r\\n'
    'Connection: close\\r\\n\\r\\n" "$2" | openssl s_client -quiet -connect "127.0.0.1:$1" '
    '-servername "$2" 2>/dev/null'
)


@dataclass(frozen=True)
class CandidateTest:
    """`nginx -t` of the candidate inside the live container."""

    ok: bool
    nginx_version: str
    output: str
    messages: tuple[NginxMessage, ...]


@dataclass(frozen=True)
class ReloadOutcome:
    took: bool
    problems: tuple[str, ...]


def check_candidate(proxy: ProxyContainer, layout: LiveLayout, text: str) -> CandidateTest:
    """`nginx -t` inside the live container on a copy of its main config that loads the
    candidate instead of the live file: the real certificates, htpasswd files, includes and
    nginx version. Nothing live changes; the stage is left for inspection until the next run."""
    main = proxy.read_text(MAIN_CONFIG)
    if main is None:
        raise Refused(f"{MAIN_CONFIG} is not readable in container {proxy.name}")
    tested_main = staged_main_config(main, layout)
    if tested_main is None:
        raise Refused(
            f"{MAIN_CONFIG} does not include {layout.directory}/*.conf, so nginx would not load "
            f"{layout.name} from there; add `include {layout.directory}/*.conf;` to its http block"
        )
    # The stage holds every other file of the live directory and the candidate under its name.
    copied = proxy.shell(
        'rm -rf "$2" && mkdir -p "$2" && for f in "$1"/*.conf; do '
        '[ -f "$f" ] && cp -p "$f" "$2"/; done; exit 0',
        layout.directory,
        layout.stage_directory,
    )
    if copied.exit_code:
        raise Refused(f"cannot stage the candidate in {layout.stage_directory}: {copied.output}")
    proxy.write_files(layout.stage_directory, {layout.name: text.encode("utf-8")})
    proxy.write_files(
        str(TEST_MAIN_CONFIG.rsplit("/", 1)[0]),
        {TEST_MAIN_CONFIG.rsplit("/", 1)[1]: tested_main.encode("utf-8")},
    )
    try:
        result = proxy.run(["nginx", "-v", "-t", "-c", TEST_MAIN_CONFIG])
    finally:
        proxy.run(["rm", "-f", TEST_MAIN_CONFIG])
    output = result.output
    messages = parse_messages(output, {layout.staged_path: layout.name}, {layout.name: text})
    return CandidateTest(
        ok=result.exit_code == 0,
        nginx_version=nginx_version(output),
        output=output,
        messages=tuple(messages),
    )


def swap_in(proxy: ProxyContainer, layout: LiveLayout, text: str) -> None:
    """Replace the live file by `text` in one rename inside the mounted directory."""
    proxy.write_files(layout.directory, {layout.swap_path.rsplit("/", 1)[1]: text.encode()})
    moved = proxy.run(["mv", "-f", layout.swap_path, layout.live_path])
    if moved.exit_code:
        raise Refused(f"cannot rename the candidate into place: {moved.output.strip()}")


def workers(proxy: ProxyContainer) -> Workers:
    return worker_pids(proxy.shell(_WORKERS).stdout)


def reload(proxy: ProxyContainer, layout: LiveLayout, expected: str | None) -> ReloadOutcome:
    """`nginx -s reload`, then whether it took: new workers started and every old one stopped
    accepting (so nothing after this is served by the previous config), no `[emerg]`/`[alert]`
    in the log since, and nginx (`nginx -T`) loading `expected` as the live file (None: none)."""
    before = workers(proxy)
    since = proxy.now()
    signalled = proxy.run(["nginx", "-s", "reload"])
    if signalled.exit_code:
        return ReloadOutcome(False, (f"nginx -s reload failed: {signalled.output.strip()}",))
    deadline = time.monotonic() + RELOAD_WAIT_SECONDS
    problems: list[str] = []
    started = False
    while time.monotonic() < deadline:
        failures = reload_failures(proxy.logs_since(since))
        if failures:
            problems += _settled_failures(proxy, since, deadline)
            break
        if reload_took(before, workers(proxy)):
            started = True
            break
        time.sleep(0.2)
    if not started and not problems:
        problems.append(f"the new nginx workers did not take over within {RELOAD_WAIT_SECONDS:g} s")
    if started:
        problems += reload_failures(proxy.logs_since(since))
    dump = proxy.run(["nginx", "-T"])
    if expected is None:
        if layout.live_path in dumped_files(dump.stdout):
            problems.append(f"nginx -T still loads {layout.live_path}, which was removed")
    elif not dump_holds(dump.stdout, layout.live_path, expected):
        problems.append(
            f"nginx -T does not show the expected {layout.live_path}: the container does not "
            "see the file that was written"
        )
    return ReloadOutcome(started and not problems, tuple(problems))


def _settled_failures(proxy: ProxyContainer, since: float, deadline: float) -> list[str]:
    """The failures of a reload once nginx stops logging about it: the master retries a busy
    port for a few seconds, and a reload started meanwhile would see those lines as its own."""
    log = proxy.logs_since(since)
    quiet = 0
    while time.monotonic() < deadline and quiet < 2:
        time.sleep(0.5)
        later = proxy.logs_since(since)
        quiet = quiet + 1 if later == log else 0
        log = later
    return reload_failures(log)


def probe(proxy: ProxyContainer, target: ProbeTarget) -> ProbeResult:
    tool = "openssl" if target.tls else "bash"
    if proxy.shell('command -v "$1" >/dev/null', tool).exit_code:
        return ProbeResult(target, "not probed", None, f"no {tool} in the container")
    script = _HTTPS_PROBE if target.tls else _HTTP_PROBE
    host = target.host.replace("*", "nginxgen-probe", 1)
    result = proxy.run(
        [
            "timeout",
            str(PROBE_TIMEOUT_SECONDS),
            "bash",
            "-c",
            script,
            "probe",
            str(target.port),
            host,
        ]
    )
    return classify(target, result.stdout)


def kept_versions(proxy: ProxyContainer, layout: LiveLayout) -> list[str]:
    return versions(name for name, _ in proxy.list_directory(layout.versions_directory))


def save_version(
    proxy: ProxyContainer, layout: LiveLayout, text: str, moment: datetime.datetime
) -> str:
    """Keep `text` as a version; its name. Written into the state directory (which the test of
    the candidate created) as `versions/NAME`: the archive API makes the directory if need be,
    one round trip instead of two."""
    name = version_name(moment, text)
    relative = layout.versions_directory.removeprefix(f"{layout.state_directory}/")
    proxy.write_files(
        layout.state_directory, {f"{relative}/{name}": text.encode()}, moment.timestamp()
    )
    return name


def prune_versions(
    proxy: ProxyContainer, layout: LiveLayout, keep: int, kept: Sequence[str] | None = None
) -> list[str]:
    """Remove the oldest versions beyond `keep`; `kept`: the names, when already known."""
    known = kept if kept is not None else kept_versions(proxy, layout)
    removed = versions_to_remove(known, keep)
    if removed:
        proxy.run(["rm", "-f", *(f"{layout.versions_directory}/{name}" for name in removed)])
    return removed


def read_version(proxy: ProxyContainer, layout: LiveLayout, name: str) -> str:
    text = proxy.read_text(f"{layout.versions_directory}/{name}")
    if text is None:
        raise Refused(f"version {name} is not in {layout.versions_directory}")
    return text


def resolve(proxy: ProxyContainer, host: str) -> tuple[str, ...]:
    """The addresses `host` resolves to inside the proxy now (its resolv.conf: Docker's DNS at
    127.0.0.11 on user-defined networks), as nginx's resolver will find them."""
    result = proxy.run(["getent", "ahostsv4", host])
    addresses = {line.split()[0] for line in result.stdout.splitlines() if line.strip()}
    return tuple(sorted(addresses))


def answers(proxy: ProxyContainer, address: str, port: int) -> bool:
    """Whether a TCP connection from inside the proxy to `address:port` is accepted."""
    script = 'exec 3<>"/dev/tcp/$1/$2"'
    result = proxy.run(["timeout", "3", "bash", "-c", script, "connect", address, str(port)])
    return result.exit_code == 0
