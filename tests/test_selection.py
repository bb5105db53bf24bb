"""Which container is the live proxy (`docker/selection.py`): the options as one typed value,
and this project's own compose container, never another project's — first as pure decisions,
then with two real "compose projects" (containers carrying compose's labels) on one daemon."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from nginx_fixtures import DockerStack, http_get
from test_status import HTTP_SHOP
from typer.testing import CliRunner

from nginxgen.cli import app
from nginxgen.core.errors import EnvironmentUnavailable, UsageError
from nginxgen.docker.selection import (
    COMPOSE_PROJECT_LABEL,
    COMPOSE_SERVICE_LABEL,
    COMPOSE_WORKING_DIR_LABEL,
    ByComposeService,
    ByContainer,
    BySwarmService,
    ComposeProject,
    ContainerSummary,
    normalised_project_name,
    project_container,
    proxy_selection,
)

IMAGE = "nginxgen-test/nginx:trixie"
CONF_D = "/etc/nginx/conf.d"
HERE = ComposeProject("shop", "/srv/shop")


def labels(project: str, directory: str, service: str = "nginx") -> dict[str, str]:
    return {
        COMPOSE_PROJECT_LABEL: project,
        COMPOSE_WORKING_DIR_LABEL: directory,
        COMPOSE_SERVICE_LABEL: service,
    }


@pytest.mark.parametrize(
    ("directory", "name"),
    [("My Shop", "myshop"), ("_shop.v2", "shopv2"), ("--Prod_1", "prod_1"), ("a-b_c", "a-b_c")],
)
def test_the_project_name_is_normalised_as_compose_does(directory: str, name: str) -> None:
    assert normalised_project_name(directory) == name
    assert ComposeProject.here(Path("/srv") / directory, {}).name == name


def test_compose_project_name_and_project_option_take_precedence() -> None:
    assert ComposeProject.here(Path("/srv/shop"), {"COMPOSE_PROJECT_NAME": "Live"}).name == "live"
    named = ComposeProject.here(Path("/srv/shop"), {"COMPOSE_PROJECT_NAME": "x"}, "edge")
    assert named.name == "edge" and named.named
    # --project: the name alone decides, a container of this directory but another name is not it.
    assert not named.owns(labels("shop", "/srv/shop"))
    assert named.owns(labels("edge", "/elsewhere"))


def test_the_options_are_one_value_validated_once() -> None:
    assert proxy_selection("c", None, None, HERE) == ByContainer("c")
    assert proxy_selection(None, None, "s", HERE) == BySwarmService("s")
    assert proxy_selection(None, None, None, HERE) == ByComposeService("nginx", HERE)
    assert proxy_selection(None, "web", None, HERE) == ByComposeService("web", HERE)
    for container, compose, swarm in (("c", "web", None), ("c", None, "s"), (None, "web", "s")):
        with pytest.raises(UsageError, match="give one of"):
            proxy_selection(container, compose, swarm, HERE)
    with pytest.raises(UsageError, match="--project"):
        proxy_selection("c", None, None, ComposeProject("edge", "/srv", named=True))


MINE = ContainerSummary("shop-nginx-1", "running", labels("shop", "/srv/shop"))
OTHER = ContainerSummary("blog-nginx-1", "running", labels("blog", "/srv/blog"))


def test_this_projects_container_is_chosen_beside_another_projects() -> None:
    selection = ByComposeService("nginx", HERE)
    assert project_container(selection, [OTHER, MINE]) == "shop-nginx-1"
    # By directory alone (a compose file with its own `name:`), or by name alone.
    by_directory = ContainerSummary("x-1", "running", labels("renamed", "/srv/shop"))
    assert project_container(selection, [OTHER, by_directory]) == "x-1"
    by_name = ContainerSummary("y-1", "running", labels("shop", "/mnt/elsewhere"))
    assert project_container(selection, [OTHER, by_name]) == "y-1"


def test_another_projects_proxy_is_never_chosen() -> None:
    selection = ByComposeService("nginx", HERE)
    stopped = ContainerSummary("shop-nginx-1", "exited", MINE.labels)
    with pytest.raises(EnvironmentUnavailable) as error:
        project_container(selection, [OTHER, stopped])
    message = str(error.value)
    assert "shop-nginx-1" in message and "is exited" in message
    assert "docker compose up -d nginx" in message and "blog-nginx-1" not in message
    with pytest.raises(EnvironmentUnavailable, match="left alone: blog-nginx-1") as none:
        project_container(selection, [OTHER])
    assert "--project NAME" in str(none.value)
    twice = ContainerSummary("shop-nginx-2", "running", MINE.labels)
    with pytest.raises(UsageError, match="2 running containers"):
        project_container(selection, [MINE, twice])


# ---- two compose projects on one Docker daemon ----------------------------------------------


@pytest.fixture
def two_projects(
    docker_stack: DockerStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[DockerStack, Path, Path]:
    """This project (tmp_path/shop, the current directory) and another one (tmp_path/blog),
    each with its proxy of compose service `nginx`, labelled as compose labels them."""
    mine, other = tmp_path / "shop", tmp_path / "blog"
    for project in (mine, other):
        (project / "deployed").mkdir(parents=True)
        (project / "environments").mkdir()
        (project / "environments" / "shop.yaml").write_text(HTTP_SHOP, encoding="utf-8")
        (project / "nginxgen.yaml").write_text('nginx_version: "1.26"\n', encoding="utf-8")
    monkeypatch.chdir(mine)
    monkeypatch.delenv("COMPOSE_PROJECT_NAME", raising=False)
    docker_stack.start_service("app")
    # Project names unique to this run: the daemon is shared with other test runs.
    for name, project in (("mine", mine), ("other", other)):
        docker_stack.start_nginx(
            IMAGE,
            {},
            name=name,
            volumes={str(project / "deployed"): CONF_D},
            labels=labels(normalised_project_name(f"{tmp_path.name}-{name}"), str(project)),
        )
    return docker_stack, mine, other


def live_file(project: Path) -> Path:
    return project / "deployed" / "nginx-ssl.conf"


@pytest.mark.nginx
def test_a_plain_deploy_reaches_this_projects_proxy_only(
    two_projects: tuple[DockerStack, Path, Path],
) -> None:
    stack, mine, other = two_projects
    result = CliRunner().invoke(app, ["deploy"])
    assert result.exit_code == 0, result.output
    assert f"deployed to {stack.wrapped('mine').name}" in result.output
    assert live_file(mine).is_file() and not live_file(other).exists()
    assert http_get(stack.port("mine", 80), "shop.example.com").status == 200
    status = CliRunner().invoke(app, ["status"])
    assert f"proxy {stack.wrapped('mine').name}" in status.output, status.output


@pytest.mark.nginx
def test_with_this_projects_proxy_stopped_deploy_refuses_and_leaves_the_other_alone(
    two_projects: tuple[DockerStack, Path, Path],
) -> None:
    stack, mine, other = two_projects
    proxy: Any = stack.wrapped("mine")
    proxy.stop(timeout=2)
    result = CliRunner().invoke(app, ["deploy"])
    assert result.exit_code == 2, result.output
    assert f"this project's proxy, container {proxy.name}" in result.output
    assert "is exited" in result.output and "docker compose up -d nginx" in result.output
    assert not live_file(other).exists() and not live_file(mine).exists()
    # The other project's proxy still serves its own (stock) config, never reloaded.
    logs = bytes(stack.wrapped("other").logs()).decode()
    assert "SIGHUP" not in logs and "reconfiguring" not in logs
