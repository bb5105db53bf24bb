"""Deploy to a Swarm service on any number of nodes, through Swarm itself.

The rendered output is a Swarm config mounted at the proxy's conf.d path; Swarm's raft store
carries it to every node, and its rolling update (one node at a time, stop-first, health
checked, rolled back on failure) replaces the tasks. nginxgen talks to the manager only:

1. the candidate becomes a config (certificates and htpasswd files are the service's secrets,
   created by `docker stack deploy` from the issuing node's files: docs/swarm.md);
2. `nginx -t` runs in a throwaway one-task service of the service's own image on the manager,
   with the same networks, configs and secrets except the candidate in place of the live
   config — a plain container cannot mount configs or secrets; nothing of the proxy changed yet;
3. the service's spec gets the new config (and secrets): Swarm rolls it out;
4. the rollout is followed until every node has one task that is Running (with a health check,
   Swarm marks a task running only once the check passed) on the expected config — not merely
   until the update state says so: `rollback_completed` was seen ~7 s before the node served;
5. on a rollback, the node whose task failed and nginx's error (from the task's log) are named.

`deploy_to_service` is the one entry point for deploy and rollback; `service_status` for status.
"""

from __future__ import annotations

import copy
import difflib
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from docker import DockerClient
from docker.errors import APIError, NotFound

from nginxgen.core.errors import EnvironmentUnavailable
from nginxgen.core.facts import CONF_D, conf_d_name
from nginxgen.docker.live import Refused
from nginxgen.docker.swarm import get_service
from nginxgen.docker.swarm_objects import (
    SERVICE_LABEL,
    STACK_LABEL,
    config_name,
    config_text,
    ensure_config,
    kept_configs,
    prune_configs,
)

ROLLOUT_TIMEOUT_SECONDS = 600.0
TEST_TIMEOUT_SECONDS = 120.0
POLL_SECONDS = 0.5
LOG_TIMEOUT_SECONDS = 10.0
TEST_LABEL = "org.nginxgen.candidate-test"
FINAL_UPDATE_STATES = frozenset({"completed", "rollback_completed", "paused", "rollback_paused"})
FAILED_TASK_STATES = frozenset({"failed", "rejected"})
# The moments of a task worth a line while a rollout streams (not Swarm's scheduling steps).
SHOWN_TASK_STATES = frozenset({"starting", "running", "failed", "rejected", "shutdown", "complete"})

Say = Callable[[str], None]
CERTIFICATE_ADVICE = (
    "  certificates reach the nodes as the service's Swarm secrets: issue it on the issuing "
    "node, then print the stack there again (`nginxgen stack`) and `docker stack deploy` it "
    "(docs/swarm.md)"
)


@dataclass(frozen=True)
class NodeState:
    """One node's task of the proxy service as the manager reports it."""

    node: str
    task: str
    state: str
    desired_state: str
    config: str | None
    error: str = ""

    @property
    def running(self) -> bool:
        return self.state == "running" and self.desired_state == "running"

    def describe(self, health: str) -> str:
        state = (
            self.state
            if self.state == self.desired_state
            else (f"{self.state} (desired {self.desired_state})")
        )
        error = f", {self.error}" if self.error else ""
        task = f"task {self.task[:12]} {state}"
        return f"node {self.node}: {task}, {health}, config {self.config}{error}"


@dataclass
class Outcome:
    ok: bool
    nodes: list[NodeState] = field(default_factory=list)
    config: str | None = None


@dataclass(frozen=True)
class ServiceView:
    """What deploy needs of the service: its id, spec, and the live config at `target`."""

    id: str
    name: str
    version: int
    spec: dict[str, Any]
    target: str

    @property
    def container_spec(self) -> dict[str, Any]:
        return dict(self.spec["TaskTemplate"]["ContainerSpec"])

    @property
    def live_config(self) -> str | None:
        for reference in self.container_spec.get("Configs") or []:
            if reference.get("File", {}).get("Name") == self.target:
                return str(reference["ConfigName"])
        return None

    @property
    def stack(self) -> str | None:
        labels = self.spec.get("Labels") or {}
        return labels.get(STACK_LABEL)

    @property
    def health_test(self) -> str:
        check = self.container_spec.get("Healthcheck") or {}
        return " ".join(check.get("Test") or ["none"])[-120:]

    @property
    def health(self) -> str:
        check = self.container_spec.get("Healthcheck") or {}
        test = check.get("Test") or []
        if not test or test == ["NONE"]:
            return "no health check (running is not proof of serving)"
        return "healthy"


def _api(client: DockerClient) -> Any:
    """The SDK's low-level client: services and tasks as the API's own documents (the
    high-level models drop spec fields on update), untyped in the SDK."""
    return client.api


def config_target(output: str) -> str:
    """Where the rendered output is mounted in the proxy: conf.d, under the output's name."""
    return f"{CONF_D}/{conf_d_name(PurePosixPath(output).name)}"


def uses_config(client: DockerClient, service: str, target: str) -> bool:
    """Whether `service` mounts a Swarm config at `target` (the multi-node layout)."""
    return read_service(client, service, target).live_config is not None


def read_service(client: DockerClient, service: str, target: str) -> ServiceView:
    found = get_service(client, service)
    attrs = found.attrs
    return ServiceView(
        str(found.id),
        str(attrs["Spec"]["Name"]),
        int(attrs["Version"]["Index"]),
        attrs["Spec"],
        target,
    )


def _with_config(
    container_spec: dict[str, Any], config_id: str, config: str, target: str
) -> dict[str, Any]:
    """`container_spec` with the config at `target` replaced (its secrets stay: they come from
    the stack, created from the issuing node's files)."""
    updated = copy.deepcopy(container_spec)
    configs = [
        reference
        for reference in updated.get("Configs") or []
        if reference.get("File", {}).get("Name") != target
    ]
    configs.append(
        {
            "File": {"Name": target, "UID": "0", "GID": "0", "Mode": 0o444},
            "ConfigID": config_id,
            "ConfigName": config,
        }
    )
    updated["Configs"] = configs
    return updated


def _manager_node(client: DockerClient) -> str:
    swarm = client.info().get("Swarm") or {}
    if swarm.get("LocalNodeState") != "active":
        raise EnvironmentUnavailable("this Docker host is not in a swarm")
    if not swarm.get("ControlAvailable"):
        raise Refused(
            "this Docker host is a swarm worker: deploy through a manager's Docker API "
            "(DOCKER_HOST=ssh://MANAGER), which Swarm needs to update a service"
        )
    return str(swarm.get("NodeID", ""))


def test_candidate(
    client: DockerClient, view: ServiceView, container_spec: dict[str, Any], manager: str
) -> tuple[bool, str]:
    """`nginx -t` in a one-task service of the proxy's image on the manager, with
    `container_spec`'s configs and secrets; whether it passed, and nginx's output."""
    template = copy.deepcopy(view.spec["TaskTemplate"])
    spec = copy.deepcopy(container_spec)
    spec["Command"] = ["nginx", "-t"]
    spec["Args"] = []
    spec.pop("Healthcheck", None)
    spec.setdefault("Labels", {})
    template["ContainerSpec"] = spec
    template["RestartPolicy"] = {"Condition": "none"}
    template["Placement"] = {"Constraints": [f"node.id=={manager}"]}
    template.pop("ForceUpdate", None)
    name = f"nginxgen-test-{secrets.token_hex(4)}"
    created = _api(client).create_service(
        task_template=template,
        name=name,
        labels={TEST_LABEL: view.name},
        mode={"Replicated": {"Replicas": 1}},
    )
    test_id = str(created["ID"])
    try:
        deadline = time.monotonic() + TEST_TIMEOUT_SECONDS
        while True:
            tasks = _api(client).tasks(filters={"service": test_id})
            done = [
                task
                for task in tasks
                if task["Status"]["State"]
                in {
                    "complete",
                    "failed",
                    "rejected",
                    "shutdown",
                    "orphaned",
                }
            ]
            if done:
                task = done[0]
                break
            if time.monotonic() > deadline:
                states = ", ".join(task["Status"]["State"] for task in tasks) or "no task"
                return False, (
                    f"the test task did not finish within {TEST_TIMEOUT_SECONDS:g} s ({states}): "
                    "is the manager drained, or the image missing there?"
                )
            time.sleep(POLL_SECONDS)
        output = _task_log(client, task)
        status = task["Status"]
        if status["State"] == "rejected":
            return False, f"{status.get('Err', 'rejected')}\n{output}"
        return status["State"] == "complete", output
    finally:
        _api(client).remove_service(test_id)


def _task_log(client: DockerClient, task: dict[str, Any]) -> str:
    container = (task["Status"].get("ContainerStatus") or {}).get("ContainerID")
    if not container:
        return ""
    try:
        data = client.containers.get(container).logs(stdout=True, stderr=True)
    except (NotFound, APIError):
        return ""
    return bytes(data).decode("utf-8", "replace")


def node_states(client: DockerClient, view: ServiceView) -> list[NodeState]:
    """Each task the manager still knows, newest first, with its node's hostname."""
    hostnames = {
        str(node.id): str(node.attrs["Description"]["Hostname"]) for node in client.nodes.list()
    }
    tasks = _api(client).tasks(filters={"service": view.id})
    tasks.sort(key=lambda task: str(task.get("CreatedAt", "")), reverse=True)
    states = []
    for task in tasks:
        spec = task.get("Spec", {}).get("ContainerSpec", {})
        config = next(
            (
                str(reference["ConfigName"])
                for reference in spec.get("Configs") or []
                if reference.get("File", {}).get("Name") == view.target
            ),
            None,
        )
        status = task.get("Status", {})
        states.append(
            NodeState(
                node=hostnames.get(str(task.get("NodeID", "")), str(task.get("NodeID", "?"))),
                task=str(task["ID"]),
                state=str(status.get("State", "")),
                desired_state=str(task.get("DesiredState", "")),
                config=config,
                error=str(status.get("Err", "")),
            )
        )
    return states


def current_per_node(states: list[NodeState]) -> dict[str, NodeState]:
    """Each node's newest task meant to run; nodes with none (drained, left, or only history)
    are not the service's now."""
    chosen: dict[str, NodeState] = {}
    for state in states:
        if state.desired_state in {"running", "ready"} and state.node not in chosen:
            chosen[state.node] = state
    return dict(sorted(chosen.items()))


def _converged(per_node: Mapping[str, NodeState], nodes: set[str], config: str) -> bool:
    return all(
        node in per_node and per_node[node].running and per_node[node].config == config
        for node in nodes
    )


def _update_state(client: DockerClient, view: ServiceView) -> tuple[str, str, str]:
    status = _api(client).inspect_service(view.id).get("UpdateStatus") or {}
    return (
        str(status.get("State", "")),
        str(status.get("StartedAt", "")),
        str(status.get("Message", "")),
    )


def _failure_reason(
    client: DockerClient,
    view: ServiceView,
    states: list[NodeState],
    config: str,
    reached_running: set[str],
) -> list[str]:
    """Which node's task with `config` failed, how, and nginx's error from its log."""
    lines = []
    for state in [s for s in states if s.config == config and not s.running][:3]:
        if state.error:
            how = f"{state.state}: {state.error}"
        elif state.task not in reached_running:
            how = f"{state.state}: it never passed its health check ({view.health_test})"
        else:
            how = f"{state.state} after it had been running"
        lines.append(f"node {state.node}: task {state.task[:12]} {how}")
        lines += [f"  {line}" for line in _nginx_errors(client, view, state.task)]
    return lines or ["no task of the new config failed visibly; see `docker service ps`"]


def _nginx_errors(client: DockerClient, view: ServiceView, task: str) -> list[str]:
    """nginx's [emerg]/[alert] lines from one task's log, through the manager (any node).
    Bounded: the manager's log stream can hang on a task whose node no longer has its log."""
    chunks: list[bytes] = []

    def read() -> None:
        try:
            for chunk in _api(client).service_logs(
                view.id, details=True, stdout=True, stderr=True, tail="200"
            ):
                chunks.append(bytes(chunk))
        except Exception:  # noqa: BLE001 - best effort: a broken stream (ProtocolError) too
            return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(LOG_TIMEOUT_SECONDS)
    text = b"".join(chunks).decode("utf-8", "replace")
    return [
        line.partition(" ")[2]
        for line in text.splitlines()
        if f"com.docker.swarm.task.id={task}" in line and ("[emerg]" in line or "[alert]" in line)
    ][-5:]


def _stream(per_node: Mapping[str, NodeState], reported: dict[str, str], say: Say) -> None:
    """A line for each node whose task reached a new state worth saying."""
    for node, task in per_node.items():
        line = f"{task.state}/{task.config}"
        if task.state in SHOWN_TASK_STATES and reported.get(node) != line:
            reported[node] = line
            say(f"  node {node}: task {task.task[:12]} {task.state} on {task.config}")


def follow_rollout(
    client: DockerClient,
    view: ServiceView,
    config: str,
    previous: str | None,
    nodes: set[str],
    started_before: str,
    say: Say,
    timeout: float = ROLLOUT_TIMEOUT_SECONDS,
) -> Outcome:
    """Wait until every node in `nodes` runs `config` (or, once Swarm rolled back, `previous`)
    and the update is over; the outcome per node."""
    deadline = time.monotonic() + timeout
    reported: dict[str, str] = {}
    reached_running: set[str] = set()
    why = ""
    while True:
        update = _Update.read(client, view, started_before)
        why = why or update.rollback_reason
        expected = update.expected(config, previous)
        states = node_states(client, view)
        reached_running |= _running_tasks(states)
        per_node = current_per_node(states)
        _stream(per_node, reported, say)
        if _converged(per_node, nodes, expected) and update.over:
            break
        if _stopped(update, deadline, timeout, say):
            return Outcome(False, list(per_node.values()), config)
        time.sleep(POLL_SECONDS)
    outcome = Outcome(not update.rolled_back, list(per_node.values()), expected)
    for task in outcome.nodes:
        say(task.describe(view.health))
    if update.rolled_back:
        say(f"Swarm rolled the update back ({why}); every node is on {expected} again:")
        for line in _failure_reason(client, view, states, config, reached_running):
            say(line)
    return outcome


@dataclass(frozen=True)
class _Update:
    """The service's update status, as far as it concerns the update this deploy started."""

    state: str
    message: str
    # Started by this deploy (a status left from an earlier update is not ours).
    ours: bool

    @classmethod
    def read(cls, client: DockerClient, view: ServiceView, started_before: str) -> _Update:
        state, started, message = _update_state(client, view)
        return cls(state, message, ours=started != started_before)

    @property
    def rolled_back(self) -> bool:
        return self.ours and self.state.startswith("rollback")

    @property
    def over(self) -> bool:
        return not self.ours or self.state in FINAL_UPDATE_STATES

    @property
    def rollback_reason(self) -> str:
        """Swarm's message, once it rolled our update back (why the new config failed)."""
        return self.message if self.rolled_back else ""

    def expected(self, config: str, previous: str | None) -> str:
        """The config every node should end on: the new one, or the previous once rolled back."""
        return previous if self.rolled_back and previous else config


def _running_tasks(states: list[NodeState]) -> set[str]:
    return {task.task for task in states if task.state == "running"}


def _stopped(update: _Update, deadline: float, timeout: float, say: Say) -> bool:
    """Whether to give up waiting: Swarm paused the update, or the deadline passed."""
    if update.ours and update.state in {"paused", "rollback_paused"}:
        say(f"update {update.state}: {update.message}")
        return True
    if time.monotonic() > deadline:
        say(f"the rollout did not converge within {timeout:g} s (update state {update.state!r})")
        return True
    return False


def deploy_to_service(
    client: DockerClient,
    service: str,
    candidate: str,
    *,
    target: str,
    keep: int,
    say: Say,
    dry_run: bool = False,
) -> Outcome:
    """Put `candidate` live on every node of `service` through a Swarm rolling update; the
    config stays kept for `rollback` and older unused ones beyond `keep` are removed."""
    manager = _manager_node(client)
    view = read_service(client, service, target)
    previous = view.live_config
    if previous is None:
        raise Refused(
            f"service {service} mounts no Swarm config at {target}: print its stack with "
            "`nginxgen stack` (docs/swarm.md), or deploy to its bind-mounted directory on one "
            "node without configs"
        )
    name = config_name(candidate)
    if dry_run:
        _say_diff(client, previous, candidate, name, say)
    config_id = ensure_config(client, candidate, service)
    container_spec = _with_config(view.container_spec, config_id, name, target)
    passed, output = test_candidate(client, view, container_spec, manager)
    if not passed:
        for line in output.strip().splitlines():
            say(line)
        if "cannot load certificate" in output:
            say(CERTIFICATE_ADVICE)
        say(
            f"deploy refused: nginx -t failed in a test task of {service}'s image on the "
            "manager, with the service's configs and secrets; no task changed"
        )
        _remove_if_unused(client, service, name, previous)
        return Outcome(False, config=previous)
    say(f"nginx -t passed in a test task of {service}'s image with its configs and secrets")
    if dry_run:
        say("dry run: nothing changed")
        _remove_if_unused(client, service, name, previous)
        return Outcome(True, config=previous)
    nodes = {state.node for state in current_per_node(node_states(client, view)).values()}
    _, started_before, _ = _update_state(client, view)
    if name == previous and container_spec == view.container_spec:
        say(f"{name} is the live config already")
        return follow_rollout(client, view, name, previous, nodes, started_before, say)
    template = copy.deepcopy(view.spec["TaskTemplate"])
    template["ContainerSpec"] = container_spec
    _api(client).update_service(
        view.id, version=view.version, task_template=template, fetch_current_spec=True
    )
    say(f"service {service}: rolling out {name} (was {previous}) to {len(nodes)} node(s)")
    outcome = follow_rollout(client, view, name, previous, nodes, started_before, say)
    if not outcome.ok:
        _remove_if_unused(client, service, name, previous)
    else:
        removed = prune_configs(client, service, view.stack, keep, {name, previous})
        say(
            f"config {name} kept for rollback"
            + (f" ({len(removed)} older removed, --keep {keep})" if removed else "")
        )
    return outcome


def _remove_if_unused(client: DockerClient, service: str, name: str, live: str) -> None:
    """A candidate config that never went live is not a version to keep."""
    if name == live:
        return
    try:
        config: Any = client.configs.get(name)
        if config.attrs["Spec"].get("Labels", {}).get(SERVICE_LABEL) == service:
            config.remove()
    except (NotFound, APIError):
        pass


def _say_diff(client: DockerClient, live: str, candidate: str, name: str, say: Say) -> None:
    before = config_text(client, live)
    diff = "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            candidate.splitlines(keepends=True),
            f"{live} (live)",
            f"{name} (candidate)",
        )
    )
    say(diff or "no difference: the service runs the candidate already")


def rollback_candidate(client: DockerClient, service: str, target: str, to: str | None) -> str:
    """The text of the kept config to go back to: `to`, else the newest one not live now."""
    view = read_service(client, service, target)
    live = view.live_config
    kept = [config.name for config in kept_configs(client, service, view.stack)]
    if to is not None:
        if to not in kept and to != live:
            raise LookupError(
                f"no kept config {to!r} of {service}; kept: {', '.join(kept) or 'none'}"
            )
        return config_text(client, to)
    for name in kept:
        if name != live:
            return config_text(client, name)
    raise LookupError(f"no kept config of {service} other than the live one ({live})")


@dataclass(frozen=True)
class ServiceStatus:
    """Each node's task of the proxy service, and the config the service says it runs."""

    service: str
    config: str | None
    health: str
    nodes: tuple[NodeState, ...]

    @property
    def same_config(self) -> bool:
        return {node.config for node in self.nodes} == {self.config}

    @property
    def ok(self) -> bool:
        return bool(self.nodes) and self.same_config and all(node.running for node in self.nodes)

    def lines(self) -> list[str]:
        lines = [node.describe(self.health) for node in self.nodes]
        count = f"service {self.service}: {len(self.nodes)} node(s)"
        if self.same_config:
            running = "" if self.ok else "; not every task is running"
            lines.append(f"{count}, all on {self.config}{running}")
        else:
            configs = ", ".join(sorted(str(node.config) for node in self.nodes))
            lines.append(
                f"{count} on different configs ({configs}); the service's is {self.config}: "
                "a rollout is under way, or one stopped half-way"
            )
        return lines

    def document(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "config": self.config,
            "ok": self.ok,
            "same_config": self.same_config,
            "tasks": [
                {
                    "node": node.node,
                    "task": node.task,
                    "state": node.state,
                    "desired_state": node.desired_state,
                    "config": node.config,
                    "health": self.health if node.running else None,
                    "error": node.error,
                }
                for node in self.nodes
            ],
        }


def service_status(client: DockerClient, service: str, target: str) -> ServiceStatus:
    """Each node's current task of `service` (state, config, health), through the manager."""
    view = read_service(client, service, target)
    per_node = current_per_node(node_states(client, view))
    return ServiceStatus(service, view.live_config, view.health, tuple(per_node.values()))
