"""`DOCKER_HOST=ssh://…`: deploy, status and rollback reach the proxy through a real sshd on
127.0.0.1 (the Docker SDK's SSH transport, paramiko, as `pip install .` brings it), against the
same real proxy container as tests/test_deploy.py."""

from __future__ import annotations

import importlib.util

import pytest
from ssh_fixtures import SshServer, docker_over_ssh, sshd
from test_deploy import Stack, live_stack, site
from typer.testing import CliRunner

from nginxgen.cli import app
from nginxgen.docker.proxy import connect

__all__ = ["live_stack", "sshd"]


def test_the_installed_package_brings_the_ssh_transport() -> None:
    # `docker[ssh]` in pyproject.toml: without paramiko the SDK refuses every ssh:// host.
    assert importlib.util.find_spec("paramiko") is not None


@pytest.mark.nginx
def test_connect_goes_through_ssh(sshd: SshServer) -> None:
    with docker_over_ssh(sshd):
        client = connect()
    try:
        assert client.api.base_url == "http+docker://ssh"
        assert client.ping()
    finally:
        client.close()


@pytest.mark.nginx
def test_deploy_status_and_rollback_over_ssh(live_stack: Stack, sshd: SshServer) -> None:
    live_stack.stack.start_service("app-v2")
    live_stack.environment("site", site("site.example.com"))
    with docker_over_ssh(sshd):
        first = live_stack.nginx_cli("deploy")
    assert first.exit_code == 0, first.output
    assert sshd.logins() == 1  # one SSH connection for the whole command
    assert "site: http://site.example.com:80/ served (HTTP 200)" in first.output
    live_stack.environment("site", site("site.example.com", host="app-v2"))
    with docker_over_ssh(sshd):
        second = live_stack.nginx_cli("deploy")
    assert second.exit_code == 0, second.output
    assert "backend=app-v2" in live_stack.get("site.example.com").body

    with docker_over_ssh(sshd):
        status = live_stack.nginx_cli("status")
    assert status.exit_code == 0, status.output
    assert "service app (app-v2:3000): 1 address, 1 answering" in status.output, status.output
    assert sshd.logins() == 3

    with docker_over_ssh(sshd):
        back = live_stack.nginx_cli("rollback")
    assert back.exit_code == 0, back.output
    assert "rolled back to" in back.output
    assert sshd.logins() == 4
    assert "backend=app " in live_stack.get("site.example.com").body


@pytest.mark.nginx
def test_an_unreachable_ssh_host_advises_ssh_not_a_local_daemon(
    sshd: SshServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(sshd.home))
    # The server answers, but no key it knows: the SSH login itself fails.
    (sshd.home / ".ssh" / "id_ed25519").unlink()
    monkeypatch.setenv("DOCKER_HOST", sshd.docker_host)
    result = CliRunner().invoke(app, ["deploy", "--container", "nginxgen-no-such-proxy"])
    assert result.exit_code == 2, result.output
    assert "Start the Docker daemon" not in result.output
    assert sshd.docker_host in result.output
    assert "ssh" in result.output.lower()
