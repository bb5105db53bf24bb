"""`--swarm-service` on one node: which tasks are taken, and whether one swap reaches them all
(no Docker)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from swarm_support import project as project  # the fixture
from typer.testing import CliRunner

from nginxgen.cli import app
from nginxgen.commands import status as status_command
from nginxgen.commands.status import Finding
from nginxgen.docker import deploy_flow, journal
from nginxgen.docker.live import (
    LiveLayout,
    Refused,
    ServiceTask,
    local_task_containers,
    shared_layout,
)
from nginxgen.docker.operations import CandidateTest, ReloadOutcome
from nginxgen.docker.swarm import service_task

# --- --swarm-service: which tasks, and whether one swap reaches them all ---------------------


def task(
    node: str, container: str | None, state: str = "running", desired: str = "running"
) -> ServiceTask:
    return ServiceTask(node=node, state=state, desired_state=desired, container_id=container)


def test_the_running_tasks_of_this_node_are_taken_and_those_leaving_are_not() -> None:
    tasks = [
        task("n1", "c2"),
        task("n1", "c1"),
        task("n1", "c3", desired="shutdown"),  # a task being replaced
        task("n1", "c4", state="starting"),
        task("n1", None, state="pending"),
    ]
    assert local_task_containers("proxy_nginx", tasks, "n1", {"c1", "c2", "c3", "c4"}) == [
        "c1",
        "c2",
    ]


def test_tasks_on_other_nodes_are_refused_saying_what_is_covered() -> None:
    tasks = [task("n1", "c1"), task("n2", "c2"), task("n3", None), task("n3", "x", "shutdown")]
    with pytest.raises(Refused) as refused:
        local_task_containers("proxy_nginx", tasks, "n1", {"c1"})
    message = str(refused.value)
    assert "2 of the 3 running tasks of service proxy_nginx run on other nodes (n2, n3)" in message
    assert "cannot exec into another node's tasks" in message
    assert "single-node swarm" in message


def test_the_manager_listing_of_a_task_is_read_into_a_service_task() -> None:
    listed = {
        "NodeID": "n1",
        "DesiredState": "running",
        "Status": {"State": "running", "ContainerStatus": {"ContainerID": "abc"}},
    }
    assert service_task(listed) == task("n1", "abc")
    assert service_task({"NodeID": "n1", "Status": {"State": "pending"}}).container_id is None


def test_tasks_must_share_one_mount_source_for_one_swap() -> None:
    one = LiveLayout("/etc/nginx/conf.d", "proxy.conf", "/srv/proxy/deployed")
    assert shared_layout({"b": one, "a": one}) == one
    other = LiveLayout("/etc/nginx/conf.d", "proxy.conf", "/var/lib/docker/volumes/t2/_data")
    with pytest.raises(Refused, match="do not mount one shared /etc/nginx/conf.d") as refused:
        shared_layout({"a": one, "b": other})
    assert "a: /srv/proxy/deployed; b: /var/lib/docker/volumes/t2/_data" in str(refused.value)
    assert "cannot exec into another node's tasks" in str(refused.value)


def test_swarm_service_with_container_is_a_usage_error(project: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["deploy", "--settings", "nginxgen.yaml", "--swarm-service", "s", "--container", "c"],
    )
    assert result.exit_code == 2, result.output
    assert "give one of --container, --compose-service and --swarm-service" in result.output


@dataclass
class FakeTask:
    name: str


def test_status_per_task_is_a_section_each_a_json_list_and_fails_when_one_task_does(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        status_command,
        "find_proxies",
        lambda selection: [FakeTask("proxy.1.a"), FakeTask("proxy.2.b")],
    )

    def inspect(proxy: FakeTask, *_: object) -> list[Finding]:
        if proxy.name == "proxy.2.b":
            return [Finding("network", "error", "only on bridge")]
        return [Finding("network", "ok", "on edge")]

    monkeypatch.setattr(status_command, "inspect", inspect)
    # A bind-mounted service, not one with its config as a Swarm config.
    monkeypatch.setattr(status_command, "connect", lambda: None)
    monkeypatch.setattr(status_command, "uses_config", lambda *_: False)
    arguments = ["status", "--settings", "nginxgen.yaml", "--swarm-service", "proxy"]
    text = CliRunner().invoke(app, arguments)
    assert text.exit_code == 1, text.output
    assert text.stdout == (
        "proxy proxy.1.a\nok: network: on edge\nlive: nothing stops a site\n\n"
        "proxy proxy.2.b\nerror: network: only on bridge\n"
        "live: problems that stop a site or the next restart\n\n"
        "service proxy: 2 task(s), problems in proxy.2.b\n"
    )
    document = json.loads(CliRunner().invoke(app, [*arguments, "--format", "json"]).stdout)
    assert [(report["container"], report["ok"]) for report in document] == [
        ("proxy.1.a", True),
        ("proxy.2.b", False),
    ]


@dataclass
class FakeProxy:
    name: str
    live: str = "old"

    def read_text(self, path: str) -> str | None:
        return None if path.endswith(".json") else self.live


def test_a_reload_that_fails_in_one_task_restores_once_and_reloads_every_task(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    layout = LiveLayout("/etc/nginx/conf.d", "proxy.conf", "/srv/deployed")
    swaps: list[str] = []
    reloads: list[tuple[str, str | None]] = []

    def reload(proxy: FakeProxy, _: LiveLayout, expected: str | None) -> ReloadOutcome:
        reloads.append((proxy.name, expected))
        if proxy.name == "b" and expected == "new":
            return ReloadOutcome(False, ("[emerg] bind() to 0.0.0.0:80 failed",))
        return ReloadOutcome(True, ())

    passed = CandidateTest(ok=True, nginx_version="nginx/1.30.0", output="", messages=())
    monkeypatch.setattr(deploy_flow, "check_candidate", lambda *_: passed)
    monkeypatch.setattr(deploy_flow, "swap_in", lambda _, __, text: swaps.append(text))
    monkeypatch.setattr(deploy_flow, "reload", reload)
    # The journal and the kept versions are files in the shared directory: none here.
    monkeypatch.setattr(deploy_flow, "kept_versions", lambda *_: [])
    monkeypatch.setattr(deploy_flow, "keep_previous", lambda *_: None)
    for name in ("write", "clear"):
        monkeypatch.setattr(journal, name, lambda *_: None)
    transcript = deploy_flow.Transcript()
    proxies: Any = [FakeProxy("a"), FakeProxy("b"), FakeProxy("c")]
    assert not deploy_flow.apply(proxies, layout, "new", transcript).ok
    # One swap each way in the shared directory; c never got the candidate, every task the
    # previous file again.
    assert swaps == ["new", "old"]
    assert reloads == [("a", "new"), ("b", "new"), ("a", "old"), ("b", "old"), ("c", "old")]
    assert "failed: b: [emerg] bind() to 0.0.0.0:80 failed" in transcript.lines
    assert transcript.lines[-1] == (
        "rolled back: the previous config is serving again in all 3 tasks "
        "(/etc/nginx/conf.d/proxy.conf)"
    )
