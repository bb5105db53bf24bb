"""The proxy as a Docker Swarm service through the Docker SDK: its running task containers on
this Docker host, for `--swarm-service`.

The manager lists the service's tasks (with their nodes); the containers are this host's. Which
tasks are taken, and when to refuse (tasks on other nodes), is decided in `live.py`.
"""

from __future__ import annotations

from typing import Any

from docker import DockerClient
from docker.errors import APIError, NotFound

from nginxgen.core.errors import EnvironmentUnavailable
from nginxgen.docker.live import SUPPORTED_SWARM, Refused, ServiceTask, local_task_containers
from nginxgen.docker.proxy import ProxyContainer

SWARM_SERVICE_LABEL = "com.docker.swarm.service.name"


def get_service(client: DockerClient, service: str) -> Any:
    """The SDK's model of Swarm service `service`; `EnvironmentUnavailable` saying why not."""
    try:
        return client.services.get(service)  # type: ignore[no-untyped-call]
    except NotFound:
        raise EnvironmentUnavailable(
            f"no swarm service named {service!r} (`docker service ls`; `docker stack deploy` "
            "names them <stack>_<service>)"
        ) from None
    except APIError as error:
        raise EnvironmentUnavailable(f"service {service!r}: {error.explanation}") from error


def service_task(task: dict[str, Any]) -> ServiceTask:
    status = task.get("Status") or {}
    container = (status.get("ContainerStatus") or {}).get("ContainerID")
    return ServiceTask(
        node=str(task.get("NodeID", "")),
        state=str(status.get("State", "")),
        desired_state=str(task.get("DesiredState", "")),
        container_id=str(container) if container else None,
    )


def find_service_tasks(client: DockerClient, service: str) -> list[ProxyContainer]:
    """Every running task container of Swarm service `service`, all on this Docker host, in a
    stable order (by container id); `Refused` when some run on other nodes."""
    swarm = client.info().get("Swarm") or {}
    if swarm.get("LocalNodeState") != "active":
        raise EnvironmentUnavailable(
            f"this Docker host is not in a swarm, so there is no service {service!r}"
        )
    if not swarm.get("ControlAvailable"):
        raise Refused(
            "this Docker host is a swarm worker: only a manager lists a service's tasks, so "
            f"nginxgen cannot tell whether all of {service}'s tasks are here. " + SUPPORTED_SWARM
        )
    found = get_service(client, service)
    try:
        tasks = found.tasks()
    except APIError as error:
        raise EnvironmentUnavailable(
            f"cannot list the tasks of service {service!r}: {error.explanation}"
        ) from error
    containers = {
        str(container.id): container
        for container in client.containers.list(
            filters={"label": f"{SWARM_SERVICE_LABEL}={service}"}
        )
    }
    chosen = local_task_containers(
        service, [service_task(task) for task in tasks], str(swarm.get("NodeID", "")), containers
    )
    if not chosen:
        raise EnvironmentUnavailable(f"service {service!r} has no running task")
    return [ProxyContainer(containers[container_id]) for container_id in chosen]
