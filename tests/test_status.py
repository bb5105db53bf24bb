"""`nginxgen status`: the pure findings without Docker, then a proxy on Docker's default bridge
network (the silent total outage) and a healthy stack, for real."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nginx_fixtures import DockerStack, require_image, wait_for
from typer.testing import CliRunner

from nginxgen.cli import app
from nginxgen.commands.status import network_findings, version_findings
from nginxgen.docker.live import version_name
from nginxgen.docker.proxy import COMMAND_TIMEOUT_SECONDS, TIMED_OUT, ProxyContainer
from nginxgen.generation.models import Settings
from nginxgen.generation.pipeline import generate
from nginxgen.nginx.placeholder_certs import find_tls_files, placeholder_files

IMAGE = "nginxgen-test/nginx:trixie"
CONF_D = "/etc/nginx/conf.d"
SHOP = """\
domains: [shop.example.com]
services:
  app: {host: app, port: 3000}
routes:
  - {path: /, service: app}
access:
  basic_auth: {htpasswd: /etc/nginx/htpasswd/shop}
"""
HTTP_SHOP = """\
domains: [shop.example.com]
tls: false
services:
  app: {host: app, port: 3000}
routes:
  - {path: /, service: app}
"""


def test_the_default_bridge_alone_is_an_error_a_user_defined_network_is_not() -> None:
    [bridge] = network_findings(["bridge"])
    assert bridge.severity == "error" and "127.0.0.11" in bridge.message
    [shared] = network_findings(["bridge", "shop_default"])
    assert shared.severity == "ok" and "shop_default" in shared.message


def test_the_live_version_and_drift_against_the_output() -> None:
    import datetime

    moment = datetime.datetime(2026, 11, 29, tzinfo=datetime.UTC)
    kept = [version_name(moment, "v1\n")]
    live, drift = version_findings("v1\n", kept, Path("out/nginx-ssl.conf"), "v1\n")
    assert live.message == f"live: {kept[0]}" and drift.severity == "ok"
    # The live version is what runs; the drift is about the next deploy.
    assert (live.scope, drift.scope) == ("live", "candidate")
    _, stale = version_findings("v1\n", kept, Path("out/nginx-ssl.conf"), "v2\n")
    assert stale.severity == "warning" and "nginxgen deploy" in stale.message
    [nothing] = version_findings(None, kept, Path("out/nginx-ssl.conf"), "v1\n")
    assert nothing.severity == "error"


def put_files(container: Any, files: dict[str, bytes]) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for path, data in files.items():
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    assert container.put_archive("/", buffer.getvalue())


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "shop.yaml").write_text(SHOP, encoding="utf-8")
    (tmp_path / "nginxgen.yaml").write_text('nginx_version: "1.26"\n', encoding="utf-8")
    (tmp_path / "deployed").mkdir()
    return tmp_path


@pytest.fixture
def bridge_proxy(docker_client: Any, project: Path) -> Iterator[Any]:
    """nginx on Docker's default bridge network, its conf.d mounted from `deployed/`."""
    container = docker_client.containers.run(
        require_image(docker_client, IMAGE),
        detach=True,
        volumes={str(project / "deployed"): {"bind": CONF_D, "mode": "rw"}},
    )
    try:
        yield container
    finally:
        container.remove(force=True)


@pytest.mark.nginx
def test_a_proxy_on_the_default_bridge_network_is_a_finding(
    bridge_proxy: Any, project: Path
) -> None:
    result = CliRunner().invoke(
        app, ["status", "--container", bridge_proxy.name, "--format", "json"]
    )
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert not document["ok"]
    by_topic = {(f["topic"], f["severity"]) for f in document["findings"]}
    assert ("network", "error") in by_topic
    network = next(f for f in document["findings"] if f["topic"] == "network")
    assert "only on bridge" in network["message"]
    service = next(f for f in document["findings"] if f["topic"] == "service")
    assert service["severity"] == "error" and "does not resolve" in service["message"]
    assert service["environment"] == "shop"


@pytest.mark.nginx
def test_a_healthy_stack_is_clean(docker_stack: DockerStack, project: Path) -> None:
    docker_stack.start_service("app")
    docker_stack.start_nginx(IMAGE, {}, volumes={str(project / "deployed"): CONF_D})
    proxy = docker_stack.wrapped("nginx")
    text = generate(project / "environments", Settings(nginx_version="1.26")).text
    put_files(
        proxy,
        {
            **placeholder_files(find_tls_files([text])),
            # alice:secret (apr1), as htpasswd -nb writes it
            "/etc/nginx/htpasswd/shop": b"alice:$apr1$9Xb3E4Yy$1dQaNXzc6Q3l/yN6b7GSx1\n",
        },
    )
    (project / "out").mkdir()
    (project / "out" / "nginx-ssl.conf").write_text(text, encoding="utf-8")
    deployed = CliRunner().invoke(app, ["deploy", "--container", proxy.name])
    assert deployed.exit_code == 0, deployed.output
    # basic auth answers 401 without credentials: served, not broken
    assert "shop: https://shop.example.com:443/ served (HTTP 401)" in deployed.output

    result = CliRunner().invoke(app, ["status", "--container", proxy.name])
    assert result.exit_code == 0, result.output
    assert "error:" not in result.output
    assert "ok: network: on " in result.output
    assert "ok: drift: the live config equals out/nginx-ssl.conf" in result.output
    assert "ok: service: shop: service app (app:3000): 1 address, 1 answering" in result.output
    assert "ok: htpasswd: shop: /etc/nginx/htpasswd/shop: 1 user(s)" in result.output
    assert "certificate: shop: /etc/letsencrypt/live/shop.example.com/fullchain.pem" in (
        result.output
    )
    assert "ok: restart: nginx -t passes on the live files" in result.output
    assert "live: nothing stops a site\n" in result.output
    assert result.output.endswith("candidate: nothing stops the next deploy\n")

    docker_stack.remove("app")
    stopped = CliRunner().invoke(app, ["status", "--container", proxy.name])
    assert stopped.exit_code == 1, stopped.output
    assert "error: service: shop: service app (app:3000) does not resolve" in stopped.output


class _FakeExec:
    def __init__(self, exit_code: int, output: object) -> None:
        self.exit_code, self.output = exit_code, output

    def __iter__(self) -> Iterator[object]:
        return iter((self.exit_code, self.output))


class _FakeContainer:
    """Records what runs inside it; `timeout` answers as the image says."""

    name = "fake"

    def __init__(self, has_timeout: bool, exit_code: int = 0) -> None:
        self.has_timeout, self.exit_code = has_timeout, exit_code
        self.commands: list[list[str]] = []

    def exec_run(self, argv: list[str], demux: bool = False) -> _FakeExec:
        self.commands.append(argv)
        if argv[:2] == ["sh", "-c"] and argv[2] == "command -v timeout":
            return _FakeExec(0 if self.has_timeout else 1, b"")
        return _FakeExec(self.exit_code, (b"out", b""))


def test_commands_in_the_proxy_are_bounded_by_timeout_where_the_image_has_it() -> None:
    container = _FakeContainer(has_timeout=True)
    proxy = ProxyContainer(container)  # type: ignore[arg-type]
    assert proxy.run(["nginx", "-t"]).stdout == "out"
    proxy.run(["nginx", "-T"])
    # Looked up once, then every command runs under it.
    assert container.commands[1:] == [
        ["timeout", str(COMMAND_TIMEOUT_SECONDS), "nginx", "-t"],
        ["timeout", str(COMMAND_TIMEOUT_SECONDS), "nginx", "-T"],
    ]
    assert len(container.commands) == 3


def test_a_command_that_times_out_says_so() -> None:
    proxy = ProxyContainer(_FakeContainer(has_timeout=True, exit_code=TIMED_OUT))  # type: ignore[arg-type]
    result = proxy.run(["nginx", "-t"])
    assert result.exit_code == TIMED_OUT
    assert f"did not finish within {COMMAND_TIMEOUT_SECONDS} s" in result.stderr


def test_an_image_without_timeout_runs_commands_unbounded() -> None:
    container = _FakeContainer(has_timeout=False)
    ProxyContainer(container).run(["nginx", "-t"])  # type: ignore[arg-type]
    assert container.commands[-1] == ["nginx", "-t"]


@pytest.mark.nginx
def test_after_a_refused_deploy_status_tells_the_live_proxy_from_the_candidate(
    docker_stack: DockerStack, project: Path
) -> None:
    """The live files restart fine; only the candidate lacks its certificate."""
    docker_stack.start_service("app")
    docker_stack.start_nginx(IMAGE, {}, volumes={str(project / "deployed"): CONF_D})
    proxy = docker_stack.wrapped("nginx")
    environments = project / "environments"
    (environments / "shop.yaml").write_text(
        HTTP_SHOP,
        encoding="utf-8",
    )
    assert CliRunner().invoke(app, ["deploy", "--container", proxy.name]).exit_code == 0
    (environments / "blog.yaml").write_text(
        "domains: [blog.example.com]\nservices:\n  app: {host: app, port: 3000}\n"
        "routes:\n  - {path: /, service: app}\n",
        encoding="utf-8",
    )
    refused = CliRunner().invoke(app, ["deploy", "--container", proxy.name])
    assert refused.exit_code == 1 and "cannot load certificate" in refused.output
    assert CliRunner().invoke(app, ["render"]).exit_code == 0

    result = CliRunner().invoke(app, ["status", "--container", proxy.name])
    assert result.exit_code == 1, result.output
    assert "nginx refuses to start" not in result.output
    assert "ok: restart: nginx -t passes on the live files" in result.output
    assert "live: nothing stops a site\n" in result.output
    assert "error: certificate: blog: /etc/letsencrypt/live/blog.example.com/fullchain.pem" in (
        result.output
    )
    assert "the next deploy is refused until it is fixed" in result.output
    assert "candidate: the next deploy would be refused or fail" in result.output
    document = json.loads(
        CliRunner().invoke(app, ["status", "--container", proxy.name, "--format", "json"]).stdout
    )
    scopes = {(f["topic"], f["scope"], f["severity"]) for f in document["findings"]}
    assert ("restart", "live", "ok") in scopes and ("certificate", "candidate", "error") in scopes
    assert not any(f["severity"] == "error" and f["scope"] == "live" for f in document["findings"])


@pytest.mark.nginx
def test_live_files_a_restart_would_refuse_are_a_live_error(
    docker_stack: DockerStack, project: Path
) -> None:
    docker_stack.start_nginx(IMAGE, {}, volumes={str(project / "deployed"): CONF_D})
    proxy = docker_stack.wrapped("nginx")
    # nginx has read its config (it writes its pid file after that) before the bad file lands:
    # written earlier, the starting nginx would read it and exit.
    wait_for(
        "nginx started",
        lambda: proxy.exec_run(["sh", "-c", "test -s /run/nginx.pid"]).exit_code,
        lambda code: code == 0,
        30,
    )
    # Put there by hand, never tested: nginx keeps running the old config until it restarts.
    (project / "deployed" / "nginx-ssl.conf").write_text("server { listen 80; bogus on; }\n")
    result = CliRunner().invoke(app, ["status", "--container", proxy.name])
    assert result.exit_code == 1, result.output
    assert "error: restart: nginx -t fails on the live files" in result.output
    assert 'unknown directive "bogus"' in result.output
    assert "live: problems that stop a site or the next restart" in result.output


@pytest.mark.nginx
def test_a_proxy_whose_conf_d_is_out_is_refused_by_deploy_and_flagged_by_status(
    docker_stack: DockerStack, project: Path
) -> None:
    out = project / "out"
    out.mkdir()
    # HTTP only, so nothing but the layout stands in the way.
    (project / "environments" / "shop.yaml").write_text(
        HTTP_SHOP,
        encoding="utf-8",
    )
    docker_stack.start_nginx(IMAGE, {}, volumes={str(out): CONF_D})
    proxy = docker_stack.wrapped("nginx")
    result = CliRunner().invoke(app, ["deploy", "--container", proxy.name])
    assert result.exit_code == 1, result.output
    assert "the directory `nginxgen render` writes" in result.output
    assert f"./deployed:{CONF_D}" in result.output
    assert list(out.iterdir()) == []
    status = CliRunner().invoke(app, ["status", "--container", proxy.name])
    assert status.exit_code == 1, status.output
    assert "error: layout: /etc/nginx/conf.d is mounted from" in status.output
