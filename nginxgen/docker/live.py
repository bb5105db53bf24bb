"""Pure decisions about the live proxy: where its config lives, how a candidate is tested beside
it, which versions are kept, and what nginx's dump, log and answers say. No Docker here.

Layout. The deployed directory is mounted into the container as a directory (`nginxgen
compose` prints `./deployed:/etc/nginx/conf.d`), never the single file, and never `out/`.
`render` and `deploy` replace the file by rename, and a single-file bind mount keeps pointing at
the old inode, so a reload would silently reload the old config; `render` writes `out/` without
testing it in the proxy, so a proxy that mounts `out/` would load an untested file at its next
restart. Inside that directory nginxgen keeps its own state under `.nginxgen/` (stock
`include conf.d/*.conf` globs never descend into it):
`.nginxgen/stage/` for the candidate under test, `.nginxgen/versions/` for deployed versions and
`.nginxgen/deploy-journal.json` while a deploy's critical section runs.

A Swarm service's tasks on one node share that directory when it is a bind mount of one host
directory (`./deployed`, as `nginxgen stack` prints): the candidate is tested and swapped once,
and every task is reloaded. Which tasks qualify is decided here too (`local_task_containers`,
`shared_layout`).
"""

from __future__ import annotations

import datetime
import difflib
import hashlib
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from nginxgen.core.facts import CONF_D, NGINX_PREFIX
from nginxgen.docker.mounts import DEPLOYED_MOUNT
from nginxgen.docker.proxy import Mount
from nginxgen.nginx.config import ConfigParseError, dump_sections

STATE_DIRECTORY = ".nginxgen"
# The test copy of the main config sits beside the real one: nginx resolves relative includes
# against the directory of the file given with -c.
TEST_MAIN_CONFIG = f"{NGINX_PREFIX}/.nginxgen-deploy-test.conf"
MAIN_CONFIG = f"{NGINX_PREFIX}/nginx.conf"
VERSION_NAME = re.compile(r"(?P<stamp>\d{8}T\d{6}\.\d{3}Z)-(?P<digest>[0-9a-f]{12})\.conf")
RELOAD_FAILURE = re.compile(r"\[(?:emerg|alert)\]")
WORKER_TITLE = "nginx: worker process"
JOURNAL_NAME = "deploy-journal.json"

Verdict = Literal["served", "down", "broken", "not probed"]


class Refused(Exception):
    """The live proxy is not set up so that a deploy can be safe; the message says the fix."""


@dataclass(frozen=True)
class LiveLayout:
    """Where the live config is inside the container: `directory` is a mounted directory."""

    directory: str
    name: str
    mount_source: str

    @property
    def live_path(self) -> str:
        return f"{self.directory}/{self.name}"

    @property
    def state_directory(self) -> str:
        return f"{self.directory}/{STATE_DIRECTORY}"

    @property
    def stage_directory(self) -> str:
        return f"{self.state_directory}/stage"

    @property
    def versions_directory(self) -> str:
        return f"{self.state_directory}/versions"

    @property
    def staged_path(self) -> str:
        return f"{self.stage_directory}/{self.name}"

    @property
    def journal_path(self) -> str:
        return f"{self.state_directory}/{JOURNAL_NAME}"

    @property
    def swap_path(self) -> str:
        """Where the next live file is written before its rename: same directory, same mount,
        so the rename is atomic, and not `*.conf`, so nginx never loads it by accident."""
        return f"{self.directory}/.{self.name}.next"


def find_layout(
    mounts: Sequence[Mount],
    name: str,
    is_directory: Callable[[str], bool],
    render_directory: str | None = None,
) -> LiveLayout:
    """The mounted directory that holds (or will hold) the live `name`; `Refused` otherwise.
    `render_directory`: the directory `render` writes (out/), as a path on the Docker host."""
    for mount in mounts:
        inside = mount.destination.startswith(f"{NGINX_PREFIX}/")
        if inside and mount.destination.endswith(".conf") and not is_directory(mount.destination):
            raise Refused(
                f"{mount.destination} is a single-file mount (of {mount.source}). `render` and "
                "`deploy` replace the file by rename, and a single-file mount keeps the old "
                "file's inode: `nginx -s reload` would silently reload the old config. Mount the "
                f"directory instead (`{DEPLOYED_MOUNT}`, as `nginxgen compose` prints), "
                "recreate the container, then deploy."
            )
    directories = [mount for mount in mounts if mount.destination == CONF_D]
    if not directories:
        raise Refused(
            f"no directory is mounted at {CONF_D}, so there is no live config to replace safely. "
            f"Mount the deployed directory there (`{DEPLOYED_MOUNT}`, as `nginxgen compose` "
            "prints), recreate the container, then deploy."
        )
    mount = directories[0]
    if render_directory is not None and mount.source.rstrip("/") == render_directory.rstrip("/"):
        raise Refused(render_directory_mounted(mount.source))
    if not mount.writable:
        raise Refused(
            f"{CONF_D} (from {mount.source}) is mounted read-only; deploy stages, swaps and "
            "keeps versions in it. Mount it read-write (drop `:ro`) and recreate the container."
        )
    return LiveLayout(mount.destination, name, mount.source)


def render_directory_mounted(source: str) -> str:
    """Why a proxy whose conf.d is the directory `render` writes is refused, and the fix."""
    return (
        f"{CONF_D} is mounted from {source}, the directory `nginxgen render` writes: a plain "
        "render (placeholder certificates, never tested in this proxy) lands in the live "
        "directory and waits there for the next restart, which would load it untested. Mount "
        f"the deployed directory instead (`{DEPLOYED_MOUNT}`, as `nginxgen compose` prints; "
        "only `deploy` writes there, after `nginx -t` passed in the proxy), recreate the "
        "container, then deploy."
    )


@dataclass(frozen=True)
class ServiceTask:
    """One task of a Swarm service as the manager lists it."""

    node: str
    state: str
    desired_state: str
    container_id: str | None


# Why a deploy across a swarm's nodes is refused: said once, by the deploy and in docs/swarm.md.
SUPPORTED_SWARM = (
    "--swarm-service covers the tasks on this Docker host that bind-mount one directory as "
    f"{CONF_D} (`./deployed`, as `nginxgen stack` prints): a single-node swarm, or the node "
    "DOCKER_HOST names. The Docker API of one node cannot exec into another node's tasks: "
    "deploy to each node's tasks with DOCKER_HOST=ssh://NODE, or to one task with --container"
)


def local_task_containers(
    service: str, tasks: Iterable[ServiceTask], this_node: str, local: Collection[str]
) -> list[str]:
    """The container ids of `service`'s running tasks, all of which must run on this node;
    `Refused` when any runs elsewhere. Tasks on their way out (desired state shutdown) and
    tasks not yet running are left alone: a reload there is not needed or not possible."""
    running = [
        task for task in tasks if task.state == "running" and task.desired_state == "running"
    ]
    elsewhere = sorted({task.node for task in running if task.node != this_node})
    if elsewhere:
        count = sum(task.node != this_node for task in running)
        raise Refused(
            f"{count} of the {len(running)} running tasks of service {service} run on other "
            f"nodes ({', '.join(elsewhere)}), which this Docker host cannot reach. "
            + SUPPORTED_SWARM
        )
    return sorted(
        task.container_id for task in running if task.container_id and task.container_id in local
    )


def shared_layout(layouts: Mapping[str, LiveLayout]) -> LiveLayout:
    """The one live layout every task (name → its layout) sees through the same mount source,
    so that one swap reaches them all; `Refused` when they do not share it."""
    if not layouts:
        raise ValueError("no task")
    shown = {f"{task}: {layout.mount_source}" for task, layout in layouts.items()}
    sources = {layout.mount_source for layout in layouts.values()}
    places = {(layout.directory, layout.name) for layout in layouts.values()}
    if len(sources) > 1 or len(places) > 1:
        raise Refused(
            f"the tasks do not mount one shared {CONF_D} ({'; '.join(sorted(shown))}): each "
            "has its own copy (a volume per task?), so one swap would not reach them all. "
            + SUPPORTED_SWARM
        )
    return layouts[min(layouts)]


def staged_main_config(main_text: str, layout: LiveLayout) -> str | None:
    """The main config with its include of the live directory pointed at the stage directory,
    so `nginx -t -c` tests the candidate with everything else real; None: no such include."""
    directory = re.escape(layout.directory)
    relative = layout.directory.removeprefix(f"{NGINX_PREFIX}/")
    alternatives = (
        directory if relative == layout.directory else f"{directory}|{re.escape(relative)}"
    )
    pattern = re.compile(
        rf"(?P<head>\binclude\s+(?P<quote>['\"]?))(?:{alternatives})/\*\.conf(?P<tail>(?P=quote)\s*;)"
    )
    rewritten, count = pattern.subn(
        lambda match: f"{match['head']}{layout.stage_directory}/*.conf{match['tail']}", main_text
    )
    return rewritten if count else None


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def version_name(moment: datetime.datetime, text: str) -> str:
    utc = moment.astimezone(datetime.UTC)
    stamp = f"{utc:%Y%m%dT%H%M%S}.{utc.microsecond // 1000:03d}Z"
    return f"{stamp}-{digest(text)}.conf"


def versions(names: Iterable[str]) -> list[str]:
    """Version file names, newest first."""
    return sorted((name for name in names if VERSION_NAME.fullmatch(name)), reverse=True)


def version_of(names: Iterable[str], text: str) -> str | None:
    """The newest kept version whose content is `text`."""
    wanted = digest(text)
    for name in versions(names):
        match = VERSION_NAME.fullmatch(name)
        if match and match["digest"] == wanted:
            return name
    return None


def versions_to_remove(names: Iterable[str], keep: int) -> list[str]:
    return versions(names)[keep:]


def rollback_target(names: Iterable[str], live_text: str | None, wanted: str | None) -> str:
    """The version `rollback` goes to: `wanted` (a prefix of a name or of its hash), else the
    newest that is not what is live now. `LookupError` when there is none."""
    kept = versions(names)
    if wanted:
        matches = [
            name
            for name in kept
            if name.startswith(wanted) or name.split("-", 1)[1].startswith(wanted)
        ]
        if len(matches) != 1:
            raise LookupError(
                f"{'no' if not matches else 'more than one'} kept version matches {wanted!r}"
                f"; kept: {', '.join(kept) or 'none'}"
            )
        return matches[0]
    live = digest(live_text) if live_text is not None else None
    for name in kept:
        match = VERSION_NAME.fullmatch(name)
        if match and match["digest"] != live:
            return name
    raise LookupError(
        f"no kept version differs from the live config; kept: {', '.join(kept) or 'none'}"
    )


def dumped_files(dump: str) -> dict[str, str]:
    """`nginx -T`'s stdout as path → content of each file nginx loaded (the dump format is read
    in one place, `nginx/config.py`); nothing when its markers cannot be read."""
    try:
        sections = dump_sections(dump, "nginx -T")
    except ConfigParseError:
        return {}
    return {str(section.path): section.content.strip("\n") for section in sections}


def dump_holds(dump: str, path: str, text: str) -> bool:
    """Whether nginx, reading its config now, loads `path` with exactly `text`."""
    loaded = dumped_files(dump).get(path)
    return loaded is not None and loaded == text.strip("\n")


def reload_failures(log: str) -> list[str]:
    """The log lines that say a reload did not take (`[emerg]`, `[alert]`)."""
    return [line.strip() for line in log.splitlines() if RELOAD_FAILURE.search(line)]


Workers = dict[int, int]  # a running worker's pid → its master's pid


def worker_pids(listing: str) -> Workers:
    """Running workers from `pid ppid title` lines (workers shutting down excluded)."""
    workers: Workers = {}
    for line in listing.splitlines():
        pid, ppid, title = (line.strip().split(" ", 2) + ["", ""])[:3]
        if title.strip() == WORKER_TITLE and pid.isdigit() and ppid.isdigit():
            workers[int(pid)] = int(ppid)
    return workers


def reload_took(before: Workers, running: Workers) -> bool:
    """Whether a reload has taken over: some master runs new workers and none of its old ones.
    An old worker keeps accepting connections until it turns to "shutting down", so a request
    sent while one remains may still be served by the previous configuration. Workers of any
    other nginx in the container (another master) do not count."""
    for master in set(running.values()):
        mine = {pid for pid, parent in running.items() if parent == master}
        old = {pid for pid, parent in before.items() if parent == master}
        if mine - old and not mine & old:
            return True
    return False


def unified_diff(before: str, after: str, before_name: str, after_name: str) -> str:
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=before_name,
            tofile=after_name,
        )
    )


@dataclass(frozen=True)
class ProbeTarget:
    environment: str
    host: str
    port: int
    tls: bool
    # What a route answers when its service is down (the plan's error page), if proxied.
    unavailable_status: int | None
    unavailable_body: str | None
    service: str | None


@dataclass(frozen=True)
class ProbeResult:
    target: ProbeTarget
    verdict: Verdict
    status: int | None
    detail: str

    def __str__(self) -> str:
        scheme = "https" if self.target.tls else "http"
        where = f"{self.target.environment}: {scheme}://{self.target.host}:{self.target.port}/"
        return f"{where} {self.verdict} ({self.detail})"


STATUS_LINE = re.compile(r"^HTTP/\d(?:\.\d)? (?P<status>\d{3})")


def classify(target: ProbeTarget, answer: str) -> ProbeResult:
    """A raw HTTP answer (status line, headers, body) as served / service down / broken."""
    match = STATUS_LINE.match(answer)
    if not match:
        shown = answer.strip().splitlines()[0][:120] if answer.strip() else "nothing"
        return ProbeResult(target, "broken", None, f"no HTTP answer: {shown}")
    status = int(match["status"])
    _, _, body = answer.partition("\r\n\r\n")
    if (
        target.unavailable_body is not None
        and status == target.unavailable_status
        and target.unavailable_body in body
    ):
        service = f"service {target.service} is down" if target.service else "service is down"
        return ProbeResult(target, "down", status, f"{status}, the unavailable page: {service}")
    return ProbeResult(target, "served", status, f"HTTP {status}")
