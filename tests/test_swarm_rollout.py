"""The decisions of a Swarm rollout without Docker: which task is each node's, when every node
runs one config, the new spec (tests/test_swarm_nodes.py runs them on three real nodes)."""

from __future__ import annotations

from typing import Any

from nginxgen.docker.swarm_rollout import (
    NodeState,
    ServiceStatus,
    _converged,
    _with_config,
    current_per_node,
)

TARGET = "/etc/nginx/conf.d/proxy.conf"


def state(node: str, task: str, current: str, desired: str, config: str) -> NodeState:
    return NodeState(node, task, current, desired, config)


def test_each_node_s_task_is_its_newest_meant_to_run_and_history_alone_is_no_node() -> None:
    newest_first = [
        state("node0", "new0", "starting", "running", "b"),
        state("node0", "old0", "shutdown", "shutdown", "a"),
        state("node1", "old1", "running", "running", "a"),
        state("gone", "old2", "shutdown", "shutdown", "a"),
    ]
    chosen = current_per_node(newest_first)
    assert {node: task.task for node, task in chosen.items()} == {"node0": "new0", "node1": "old1"}
    assert not _converged(chosen, {"node0", "node1"}, "b")
    done = current_per_node([state("node0", "new0", "running", "running", "b"), *newest_first[2:]])
    assert not _converged(done, {"node0", "node1"}, "b")  # node1 still on a
    assert _converged(done, {"node0"}, "b")


def test_status_is_ok_only_when_every_node_runs_the_service_s_config() -> None:
    same = ServiceStatus(
        "proxy_nginx",
        "b",
        "healthy",
        (
            state("node0", "t0", "running", "running", "b"),
            state("node1", "t1", "running", "running", "b"),
        ),
    )
    assert same.ok and same.lines()[-1] == "service proxy_nginx: 2 node(s), all on b"
    mixed = ServiceStatus(
        "proxy_nginx",
        "b",
        "healthy",
        (
            state("node0", "t0", "running", "running", "b"),
            state("node1", "t1", "running", "running", "a"),
        ),
    )
    assert not mixed.ok and not mixed.document()["same_config"]
    assert "on different configs (a, b); the service's is b" in mixed.lines()[-1]
    assert mixed.lines()[0] == "node node0: task t0 running, healthy, config b"


def test_the_new_spec_replaces_the_output_config_only() -> None:
    spec: dict[str, Any] = {
        "Image": "nginx",
        "Configs": [
            {"File": {"Name": TARGET}, "ConfigID": "1", "ConfigName": "nginxgen-old"},
            {"File": {"Name": "/etc/other.conf"}, "ConfigID": "2", "ConfigName": "other"},
        ],
        "Secrets": [{"File": {"Name": "/etc/letsencrypt/x.pem"}, "SecretName": "s"}],
    }
    updated = _with_config(spec, "3", "nginxgen-new", TARGET)
    assert [reference["ConfigName"] for reference in updated["Configs"]] == [
        "other",
        "nginxgen-new",
    ]
    assert updated["Secrets"] == spec["Secrets"]
    assert spec["Configs"][0]["ConfigName"] == "nginxgen-old"  # the service's own is untouched
