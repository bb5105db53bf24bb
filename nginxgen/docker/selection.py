"""Which container is the live proxy: the choice the proxy options make, as one typed value
validated once, and the pure decision of which compose container is this project's own.

A plain `deploy` must never reach another compose project's proxy: on one Docker host every
project's proxy service may be called `nginx`. A container is this project's when its compose
labels say so: `com.docker.compose.project.working_dir` is this project's directory, or
`com.docker.compose.project` is the name compose gives the project here (`COMPOSE_PROJECT_NAME`,
else the directory's name normalised as compose does), or the name given with `--project`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from nginxgen.core.errors import EnvironmentUnavailable, UsageError

COMPOSE_SERVICE_LABEL = "com.docker.compose.service"
COMPOSE_PROJECT_LABEL = "com.docker.compose.project"
COMPOSE_WORKING_DIR_LABEL = "com.docker.compose.project.working_dir"
DEFAULT_COMPOSE_SERVICE = "nginx"
# compose-go's loader.NormalizeProjectName: lower case, keep [a-z0-9_-], drop leading `_`/`-`.
_NOT_IN_PROJECT_NAME = re.compile(r"[^a-z0-9_-]")


def normalised_project_name(name: str) -> str:
    return _NOT_IN_PROJECT_NAME.sub("", name.lower()).lstrip("_-")


@dataclass(frozen=True)
class ComposeProject:
    """The compose project the proxy must belong to: by `name`, or by its directory."""

    name: str
    working_dir: str
    # True for `--project NAME`: then the name alone decides (the directory may differ).
    named: bool = False

    @classmethod
    def here(
        cls, directory: Path, environ: Mapping[str, str], name: str | None = None
    ) -> ComposeProject:
        working_dir = str(directory.resolve())
        if name:
            return cls(name, working_dir, named=True)
        given = environ.get("COMPOSE_PROJECT_NAME", "")
        return cls(normalised_project_name(given or Path(working_dir).name), working_dir)

    def owns(self, labels: Mapping[str, str]) -> bool:
        if labels.get(COMPOSE_PROJECT_LABEL) == self.name:
            return True
        return not self.named and labels.get(COMPOSE_WORKING_DIR_LABEL) == self.working_dir

    def __str__(self) -> str:
        return f"compose project {self.name!r} ({self.working_dir})"


@dataclass(frozen=True)
class ByContainer:
    name: str


@dataclass(frozen=True)
class ByComposeService:
    service: str
    project: ComposeProject


@dataclass(frozen=True)
class BySwarmService:
    service: str


ProxySelection = ByContainer | ByComposeService | BySwarmService


def proxy_selection(
    container: str | None,
    compose_service: str | None,
    swarm_service: str | None,
    project: ComposeProject,
) -> ProxySelection:
    """The one proxy the options name; `UsageError` when they name more than one way."""
    if sum(bool(value) for value in (container, compose_service, swarm_service)) > 1:
        raise UsageError("give one of --container, --compose-service and --swarm-service")
    if project.named and (container or swarm_service):
        raise UsageError(
            "--project chooses among compose containers: not with --container or --swarm-service"
        )
    if container:
        return ByContainer(container)
    if swarm_service:
        return BySwarmService(swarm_service)
    return ByComposeService(compose_service or DEFAULT_COMPOSE_SERVICE, project)


@dataclass(frozen=True)
class ContainerSummary:
    name: str
    status: str
    labels: Mapping[str, str]


def project_container(selection: ByComposeService, found: Sequence[ContainerSummary]) -> str:
    """The name of this project's running container of the service among `found` (every
    container of the daemon carrying the service's label, running or not). Another project's
    container is never chosen; this project's proxy stopped is an error naming it."""
    service, project = selection.service, selection.project
    of_service = [item for item in found if item.labels.get(COMPOSE_SERVICE_LABEL) == service]
    mine = sorted(
        (item for item in of_service if project.owns(item.labels)), key=lambda item: item.name
    )
    running = [item for item in mine if item.status == "running"]
    if len(running) == 1:
        return running[0].name
    if running:
        names = ", ".join(item.name for item in running)
        raise UsageError(
            f"{len(running)} running containers of compose service {service!r} in {project} "
            f"({names}); choose one with --container NAME"
        )
    if mine:
        stopped = mine[0]
        raise EnvironmentUnavailable(
            f"this project's proxy, container {stopped.name} (service {service!r} of {project}), "
            f"is {stopped.status}, not running; nothing was changed. Start it with "
            f"`docker compose up -d {service}` in {project.working_dir} (or "
            f"`docker start {stopped.name}`), then run this again"
        )
    others = sorted(
        f"{item.name} (project {item.labels.get(COMPOSE_PROJECT_LABEL, '?')}, {item.status})"
        for item in of_service
    )
    elsewhere = (
        f"; other projects' containers of that service are left alone: {', '.join(others)}"
        if others
        else ""
    )
    raise EnvironmentUnavailable(
        f"no container of compose service {service!r} belongs to {project}{elsewhere}. Start "
        f"this project's proxy (`docker compose up -d {service}` in {project.working_dir}), "
        "or name it: --project NAME (its compose project) or --container NAME"
    )
