"""`nginxgen compose`: the proxy's compose service follows the plan, and is valid YAML."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from nginxgen.cli import app

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
    assert set(document) == {"services"}
    return result.stdout, document["services"]["nginx"]


def test_variable_strategy_gets_the_tw_reuse_sysctl_and_says_why(project: Path) -> None:
    text, service = compose(project, 'nginx_version: "1.26"\n')
    assert service["sysctls"] == {"net.ipv4.tcp_tw_reuse": 1}
    assert "TIME_WAIT" in text
    assert service["image"] == "nginx:stable"
    assert service["ports"] == ["80:80", "443:443"]
    assert service["volumes"] == [
        "./out/nginx-ssl.conf:/etc/nginx/conf.d/nginx-ssl.conf:ro",
        "./certbot/conf:/etc/letsencrypt:ro",
        "./certbot/www:/var/www/certbot:ro",
    ]
    assert service["restart"] == "unless-stopped"
    assert "networks" in text.lower()


def test_upstream_resolve_needs_no_sysctl(project: Path) -> None:
    text, service = compose(project, 'nginx_version: "1.30"\n')
    assert "sysctls" not in service
    assert "TIME_WAIT" not in text


def test_one_variable_environment_is_enough(project: Path) -> None:
    staging = project / "environments" / "staging.yaml"
    staging.write_text(staging.read_text(encoding="utf-8") + "strategy: variable\n")
    _, service = compose(project, 'nginx_version: "1.30"\n')
    assert service["sysctls"] == {"net.ipv4.tcp_tw_reuse": 1}


def test_settings_choose_image_and_output(project: Path) -> None:
    settings = 'nginx_version: "1.30"\noutput: build/proxy.conf\ncheck: {image: "nginx:1.28"}\n'
    _, service = compose(project, settings)
    assert service["image"] == "nginx:1.28"
    assert service["volumes"][0] == "./build/proxy.conf:/etc/nginx/conf.d/proxy.conf:ro"


def test_http_only_environments_mount_no_certificates(project: Path) -> None:
    shutil.rmtree(project / "environments")
    (project / "environments").mkdir()
    (project / "environments" / "plain.yaml").write_text(HTTP_ONLY, encoding="utf-8")
    _, service = compose(project, 'nginx_version: "1.30"\n')
    assert service["ports"] == ["80:80"]
    assert service["volumes"] == ["./out/nginx-ssl.conf:/etc/nginx/conf.d/nginx-ssl.conf:ro"]


def test_invalid_environments_exit_2(project: Path) -> None:
    (project / "environments" / "broken.yaml").write_text("domains: []\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["compose"])
    assert result.exit_code == 2
    assert "broken.yaml" in result.output
