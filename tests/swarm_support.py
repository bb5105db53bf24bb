"""What the swarm tests share: the case project, the CLI runner, the settings they write."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nginxgen.cli import app

CASE = Path(__file__).resolve().parent / "cases" / "swarm"
DOMAIN = "shop.example.test"
HTTP_ONLY_ENVIRONMENT = """\
domains: [{domain}]
tls: false
services:
  app: {{host: {host}, port: 3000}}
routes:
  - {{path: /, service: app}}
"""
SWARM_130 = 'platform: swarm\nnginx_version: "1.30"\n'
SETTINGS = """\
platform: swarm
nginx_version: "1.30"
resolver_valid: 1s
output: out/proxy.conf
"""


def invoke(project: Path, *arguments: str) -> str:
    result = CliRunner().invoke(
        app,
        [
            *arguments,
            "--environments",
            str(project / "environments"),
            "--settings",
            str(project / "nginxgen.yaml"),
        ],
    )
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(CASE / "environments", tmp_path / "environments")
    shutil.copy(CASE / "nginxgen.yaml", tmp_path / "nginxgen.yaml")
    monkeypatch.chdir(tmp_path)
    return tmp_path
