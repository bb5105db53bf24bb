"""`nginxgen compose`: the proxy's compose service follows the plan, and is valid YAML."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from nginx_fixtures import BACKEND_IMAGE, http_get, require_image
from typer.testing import CliRunner

from nginxgen.cli import app

NGINX_IMAGE = "nginxgen-test/nginx:trixie"  # nginx 1.26, as nginx_version says

SHIPPED = Path(__file__).resolve().parent / "cases" / "shipped"

HTTP_ONLY = """\
domains: [plain.example.com]
tls: false
services:
  app: {host: app, port: 3000}
routes:
  - {path: /, service: app}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(SHIPPED / "environments", tmp_path / "environments")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def compose(project: Path, settings: str | None = None) -> tuple[str, dict[str, Any]]:
    arguments = ["compose"]
    if settings is not None:
        (project / "nginxgen.yaml").write_text(settings, encoding="utf-8")
        arguments += ["--settings", "nginxgen.yaml"]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    document = yaml.safe_load(result.stdout)
    assert set(document) == {"services", "networks"}
    assert document["networks"] == {"proxy": {"name": "nginxgen-proxy"}}
    return result.stdout, document["services"]["nginx"]


def test_variable_strategy_gets_the_tw_reuse_sysctl_and_says_why(project: Path) -> None:
    text, service = compose(project, 'nginx_version: "1.26"\n')
    assert service["sysctls"] == {"net.ipv4.tcp_tw_reuse": 1}
    assert "TIME_WAIT" in text
    assert service["image"] == "nginx:1.26"
    assert service["ports"] == ["80:80", "443:443"]
    assert service["volumes"] == [
        "./deployed:/etc/nginx/conf.d",
        "./certbot/conf:/etc/letsencrypt:ro",
        "./certbot/www:/var/www/certbot:ro",
    ]
    assert service["networks"] == ["default", "proxy"]
    assert service["restart"] == "unless-stopped"
    assert "single-file bind mount keeps the old file's inode" in text


def test_upstream_resolve_needs_no_sysctl(project: Path) -> None:
    text, service = compose(project, 'nginx_version: "1.30"\n')
    assert service["image"] == "nginx:1.30"
    assert "sysctls" not in service
    assert "TIME_WAIT" not in text


def test_one_variable_environment_is_enough(project: Path) -> None:
    staging = project / "environments" / "staging.yaml"
    staging.write_text(staging.read_text(encoding="utf-8") + "strategy: variable\n")
    _, service = compose(project, 'nginx_version: "1.30"\n')
    assert service["sysctls"] == {"net.ipv4.tcp_tw_reuse": 1}


def test_check_image_overrides_the_version_tag(project: Path) -> None:
    settings = 'nginx_version: "1.30"\noutput: build/proxy.conf\ncheck: {image: "nginx:1.28"}\n'
    _, service = compose(project, settings)
    assert service["image"] == "nginx:1.28"
    assert service["volumes"][0] == "./deployed:/etc/nginx/conf.d"


def test_http_only_environments_mount_no_certificates(project: Path) -> None:
    shutil.rmtree(project / "environments")
    (project / "environments").mkdir()
    (project / "environments" / "plain.yaml").write_text(HTTP_ONLY, encoding="utf-8")
    _, service = compose(project, 'nginx_version: "1.30"\n')
    assert service["ports"] == ["80:80"]
    assert service["volumes"] == ["./deployed:/etc/nginx/conf.d"]


def test_invalid_environments_exit_2(project: Path) -> None:
    (project / "environments" / "broken.yaml").write_text("domains: []\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["compose"])
    assert result.exit_code == 2
    assert "broken.yaml" in result.output


def test_htpasswd_directories_are_mounted(project: Path) -> None:
    staging = project / "environments" / "staging.yaml"
    staging.write_text(
        staging.read_text(encoding="utf-8")
        + "access:\n  basic_auth: {htpasswd: /etc/nginx/htpasswd/staging}\n",
        encoding="utf-8",
    )
    _, service = compose(project, 'nginx_version: "1.30"\n')
    assert "./htpasswd:/etc/nginx/htpasswd:ro" in service["volumes"]


# ---- the real compose tool -------------------------------------------------------------------

APP = """\
domains: [site.example.com]
tls: false
services:
  app: {host: app, port: 3000}
routes:
  - {path: /, service: app}
"""


def compose_tool() -> list[str]:
    """`docker-compose` (v1, Debian's package) or the `docker compose` plugin (v2)."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    plugin = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    assert plugin.returncode == 0, "no compose tool; run scripts/test-infra"
    return ["docker", "compose"]


def docker_compose(directory: Path, project: str, *arguments: str) -> str:
    result = subprocess.run(
        [*compose_tool(), "--project-name", project, *arguments],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"docker-compose {arguments}: {result.stderr}"
    return result.stdout


@pytest.mark.nginx
def test_the_compose_output_runs_with_docker_compose_and_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, docker_client: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "site.yaml").write_text(APP, encoding="utf-8")
    compose(tmp_path, 'nginx_version: "1.26"\n')
    text = CliRunner().invoke(app, ["compose", "--settings", "nginxgen.yaml"]).stdout
    document = yaml.safe_load(text)
    name = f"nginxgen-test-{uuid.uuid4().hex[:8]}"
    # Only what this machine needs: the local image (no registry), a loopback port picked by
    # Docker, a network of its own, and the backend as the `app` service.
    document["services"]["nginx"]["image"] = require_image(docker_client, NGINX_IMAGE)
    document["services"]["nginx"]["ports"] = ["127.0.0.1::80"]
    document["networks"]["proxy"]["name"] = name
    document["services"]["app"] = {"image": require_image(docker_client, BACKEND_IMAGE)}
    (tmp_path / "docker-compose.yml").write_text(yaml.safe_dump(document), encoding="utf-8")
    try:
        docker_compose(tmp_path, name, "up", "-d")
        container = docker_compose(tmp_path, name, "ps", "-q", "nginx").strip()
        deployed = CliRunner().invoke(app, ["deploy", "--container", container])
        assert deployed.exit_code == 0, deployed.output
        address = docker_compose(tmp_path, name, "port", "nginx", "80").strip()
        response = http_get(int(address.rsplit(":", 1)[1]), "site.example.com")
        assert response.status == 200 and "backend=" in response.body
        status = CliRunner().invoke(app, ["status", "--container", container])
        assert status.exit_code == 0, status.output
        assert f"ok: network: on {name}, {name}_default (Docker's DNS answers)" in status.output
    finally:
        docker_compose(tmp_path, name, "down", "--volumes", "--timeout", "2")
