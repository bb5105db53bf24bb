"""deploy, rollback and status through Swarm on a real three-node swarm, behind HAProxy.

The swarm is Docker-in-Docker (`swarm_cluster.py`): created once for the session and removed
after it. The proxy is the stack `nginxgen stack` prints, deployed with `docker stack deploy`
on the manager; the backend is a service of the same image on the stack's overlay network.
HAProxy runs the configuration shown in docs/swarm.md, and a steady 15 requests a second go
through it while the proxy's config changes: not one may fail.
"""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from nginx_fixtures import OFFICIAL_LAYOUT_IMAGE, require_image
from swarm_cluster import (
    DIND_IMAGE,
    DOMAIN,
    HAPROXY_IMAGE,
    LABEL,
    MISSING_CERTIFICATE,
    SERVICE,
    TARGET,
    ProxyStack,
    SwarmCluster,
    deploy_proxy_stack,
)

from nginxgen.docker.swarm_rollout import deploy_to_service

pytestmark = pytest.mark.nginx


@pytest.fixture(scope="session")
def cluster(docker_client: Any) -> Iterator[SwarmCluster]:
    for image in (DIND_IMAGE, HAPROXY_IMAGE, OFFICIAL_LAYOUT_IMAGE):
        require_image(docker_client, image)
    swarm = SwarmCluster(docker_client)
    try:
        swarm.start([OFFICIAL_LAYOUT_IMAGE])
        yield swarm
    finally:
        problems = swarm.close()
        leftovers = docker_client.containers.list(
            all=True, filters={"label": f"{LABEL}={swarm.run}"}
        )
        assert not problems and not leftovers, (problems, leftovers)


@pytest.fixture(scope="module")
def proxy(cluster: SwarmCluster, tmp_path_factory: pytest.TempPathFactory) -> ProxyStack:
    return deploy_proxy_stack(cluster, tmp_path_factory.mktemp("nodes"))


def test_status_reports_every_node_s_task_and_whether_they_run_one_config(
    proxy: ProxyStack,
) -> None:
    result = proxy.cli("status", "--swarm-service", SERVICE, "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["same_config"] and document["ok"]
    assert sorted(task["node"] for task in document["tasks"]) == ["node0", "node1", "node2"]
    assert {task["config"] for task in document["tasks"]} == {document["config"]}
    assert {task["health"] for task in document["tasks"]} == {"healthy"}
    text = proxy.cli("status", "--swarm-service", SERVICE)
    assert f"service {SERVICE}: 3 node(s), all on {document['config']}" in text.stdout


def test_a_change_reaches_every_node_and_rollback_brings_the_previous_back_without_a_failed_request(
    proxy: ProxyStack,
) -> None:
    before = proxy.status().config
    marker = f"m{secrets.token_hex(3)}"
    previous = proxy.markers()["node0"]
    proxy.write(marker)
    with proxy.load() as load:
        deployed = proxy.cli("deploy", "--swarm-service", SERVICE)
        assert deployed.exit_code == 0, deployed.output
        assert proxy.markers() == dict.fromkeys(("node0", "node1", "node2"), marker)
        status = proxy.status()
        assert status.ok and status.config != before, status.lines()
        for node in ("node0", "node1", "node2"):
            assert f"node {node}: task " in deployed.stdout
        assert f"running, healthy, config {status.config}" in deployed.stdout
        rolled = proxy.cli("rollback", "--swarm-service", SERVICE)
        assert rolled.exit_code == 0, rolled.output
        assert proxy.markers() == dict.fromkeys(("node0", "node1", "node2"), previous)
        assert proxy.status().config == before
    assert load.failed == 0, load.outcomes
    assert load.markers[marker] > 0 and load.total > 100, (load.outcomes, load.markers)


def test_a_missing_certificate_is_refused_before_any_task_changes(proxy: ProxyStack) -> None:
    before = proxy.status()
    tasks = proxy.task_ids()
    version = proxy.cluster.manager.client.services.get(SERVICE).version
    secure = proxy.project / "environments" / "secure.yaml"
    secure.write_text(MISSING_CERTIFICATE, encoding="utf-8")
    try:
        with proxy.load() as load:
            result = proxy.cli("deploy", "--swarm-service", SERVICE)
    finally:
        secure.unlink()
    assert result.exit_code == 1, result.output
    assert 'cannot load certificate "/etc/letsencrypt/live/secure.example.test/' in result.stdout
    assert "no task changed" in result.stdout
    assert proxy.task_ids() == tasks
    assert proxy.cluster.manager.client.services.get(SERVICE).version == version
    assert proxy.status().config == before.config
    assert load.failed == 0, load.outcomes


def test_a_config_that_never_becomes_healthy_is_rolled_back_by_swarm(proxy: ProxyStack) -> None:
    """nginx -t passes (nothing is wrong with the syntax) but the health check's domain is
    no longer served: the first node's new task never turns healthy, and Swarm rolls back."""
    before = proxy.status()
    live = (proxy.project / "out" / "proxy.conf").read_text(encoding="utf-8")
    candidate = live.replace(f"server_name {DOMAIN}", "server_name elsewhere.example.test")
    assert candidate != live
    lines: list[str] = []
    with proxy.load() as load:
        outcome = deploy_to_service(
            proxy.cluster.manager.client,
            SERVICE,
            candidate,
            target=TARGET,
            keep=10,
            say=lines.append,
        )
    text = "\n".join(lines)
    assert not outcome.ok, text
    assert "Swarm rolled the update back" in text
    assert "never passed its health check" in text
    after = proxy.status()
    assert after.ok and after.config == before.config, after.lines()
    assert load.failed == 0, load.outcomes


@pytest.fixture(autouse=True)
def _project_unchanged(proxy: ProxyStack) -> Iterator[None]:
    """Each test starts from the environment the stack was deployed with."""
    saved = proxy.project / "saved-environments"
    shutil.copytree(proxy.project / "environments", saved, dirs_exist_ok=True)
    yield
    shutil.rmtree(proxy.project / "environments")
    shutil.move(saved, proxy.project / "environments")
