"""`nginxgen deploy` and `nginxgen rollback`: the pure decisions without Docker, then the whole
flow against a real nginx container whose conf.d is a mounted directory, as `nginxgen compose`
prints it."""

from __future__ import annotations

import datetime
import io
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from nginx_fixtures import DockerStack, http_get, wait_for
from typer.testing import CliRunner

from nginxgen.cli import app
from nginxgen.commands.compose import compose_service
from nginxgen.commands.project import certificate_advice
from nginxgen.docker.live import (
    LiveLayout,
    ProbeTarget,
    Refused,
    classify,
    dump_holds,
    dumped_files,
    find_layout,
    reload_failures,
    reload_took,
    rollback_target,
    staged_main_config,
    version_name,
    version_of,
    versions_to_remove,
    worker_pids,
)
from nginxgen.docker.proxy import Mount
from nginxgen.generation.models import Settings
from nginxgen.generation.pipeline import generate
from nginxgen.nginx.messages import NginxMessage
from nginxgen.nginx.placeholder_certs import find_tls_files, placeholder_files

IMAGE = "nginxgen-test/nginx:trixie"  # nginx 1.26
CONF_D = "/etc/nginx/conf.d"
LAYOUT = LiveLayout(CONF_D, "nginx-ssl.conf", "/srv/deployed")


def site(domain: str, host: str = "app", tls: bool = False) -> str:
    return (
        f"domains: [{domain}]\n"
        + ("" if tls else "tls: false\n")
        + f"services:\n  app: {{host: {host}, port: 3000}}\n"
        + "routes:\n  - {path: /, service: app}\n"
    )


# ---- pure decisions -------------------------------------------------------------------------


def test_a_directory_mount_at_conf_d_is_the_live_layout() -> None:
    mounts = [Mount("bind", "/srv/deployed", CONF_D, True)]
    assert find_layout(mounts, "nginx-ssl.conf", lambda _: True) == LAYOUT


def test_a_single_file_mount_is_refused_with_the_layout_compose_prints(tmp_path: Path) -> None:
    mounts = [Mount("bind", "/srv/out/nginx-ssl.conf", f"{CONF_D}/nginx-ssl.conf", False)]
    with pytest.raises(Refused, match="single-file mount") as refused:
        find_layout(mounts, "nginx-ssl.conf", lambda _: False)
    advised = f"./deployed:{CONF_D}"
    assert advised in str(refused.value) and "./out:" not in str(refused.value)
    # The very line `nginxgen compose` prints, not a layout of its own.
    (tmp_path / "site.yaml").write_text(site("site.example.com"), encoding="utf-8")
    plan = generate(tmp_path, Settings()).plan
    volumes = yaml.safe_load(compose_service(plan, Settings()))["services"]["nginx"]["volumes"]
    assert advised in volumes


def test_the_directory_render_writes_is_refused_as_conf_d() -> None:
    mounts = [Mount("bind", "/srv/app/out", CONF_D, True)]
    with pytest.raises(Refused, match="the directory `nginxgen render` writes") as refused:
        find_layout(mounts, "nginx-ssl.conf", lambda _: True, "/srv/app/out")
    assert f"./deployed:{CONF_D}" in str(refused.value)
    assert find_layout(mounts, "nginx-ssl.conf", lambda _: True, "/srv/other/out").directory


@pytest.mark.parametrize(
    ("mounts", "reason"),
    [
        ([], "no directory is mounted"),
        ([Mount("bind", "/srv/deployed", CONF_D, False)], "read-only"),
    ],
)
def test_no_mount_or_a_read_only_one_is_refused(mounts: list[Mount], reason: str) -> None:
    with pytest.raises(Refused, match=reason):
        find_layout(mounts, "nginx-ssl.conf", lambda _: True)


@pytest.mark.parametrize(
    "include",
    ["include /etc/nginx/conf.d/*.conf;", "include conf.d/*.conf;", 'include "conf.d/*.conf" ;'],
)
def test_the_test_config_includes_the_stage_instead_of_the_live_directory(include: str) -> None:
    main = f"http {{\n    include mime.types;\n    {include}\n    include sites-enabled/*;\n}}\n"
    tested = staged_main_config(main, LAYOUT)
    assert tested is not None
    assert "/etc/nginx/conf.d/.nginxgen/stage/*.conf" in tested
    assert "conf.d/*.conf" not in tested.replace(".nginxgen/stage/*.conf", "")
    assert "include sites-enabled/*;" in tested


def test_a_main_config_without_the_include_cannot_test_a_candidate() -> None:
    assert staged_main_config("http { include /etc/nginx/sites-enabled/*; }\n", LAYOUT) is None


def test_nginx_dump_is_split_into_files() -> None:
    dump = (
        "# configuration file /etc/nginx/nginx.conf:\nhttp {\n}\n\n"
        "# configuration file /etc/nginx/conf.d/nginx-ssl.conf:\nserver {\n}\n\n"
    )
    assert dumped_files(dump) == {
        "/etc/nginx/nginx.conf": "http {\n}",
        "/etc/nginx/conf.d/nginx-ssl.conf": "server {\n}",
    }
    assert dump_holds(dump, "/etc/nginx/conf.d/nginx-ssl.conf", "server {\n}\n")
    assert not dump_holds(dump, "/etc/nginx/conf.d/nginx-ssl.conf", "server { listen 81; }\n")
    assert not dump_holds(dump, "/etc/nginx/conf.d/other.conf", "server {\n}\n")


def test_versions_are_named_by_time_and_content_and_pruned_oldest_first() -> None:
    moment = datetime.datetime(2026, 11, 29, 16, 30, 5, tzinfo=datetime.UTC)
    name = version_name(moment, "a\n")
    assert name.startswith("20261129T163005.000Z-") and name.endswith(".conf")
    names = [
        version_name(moment - datetime.timedelta(minutes=index), f"{index}\n") for index in range(4)
    ]
    assert versions_to_remove([*names, "notes.txt"], 2) == names[2:]
    assert version_of(names, "1\n") == names[1]
    assert version_of(names, "9\n") is None


def test_rollback_goes_to_the_newest_version_that_is_not_live() -> None:
    moment = datetime.datetime(2026, 11, 29, tzinfo=datetime.UTC)
    older = version_name(moment, "v1\n")
    newer = version_name(moment + datetime.timedelta(hours=1), "v2\n")
    assert rollback_target([older, newer], "v2\n", None) == older
    assert rollback_target([older, newer], "v1\n", None) == newer
    assert rollback_target([older, newer], "v2\n", older[:11]) == older
    assert rollback_target([older, newer], "v1\n", newer.split("-")[1][:6]) == newer
    with pytest.raises(LookupError, match="more than one"):
        rollback_target([older, newer], "v2\n", "2026")
    with pytest.raises(LookupError, match="no kept version"):
        rollback_target([newer], "v2\n", None)


def test_reload_failures_and_workers_are_read_from_nginx_output() -> None:
    log = (
        "2026/11/29 16:30:00 [notice] 1#1: signal process started\n"
        "2026/11/29 16:30:00 [emerg] 1#1: bind() to 0.0.0.0:443 failed (98: Address in use)\n"
    )
    assert reload_failures(log) == [log.splitlines()[1]]
    listing = "1 0 nginx: master process nginx -g daemon off;\n7 1 nginx: worker process \n"
    listing += "8 1 nginx: worker process is shutting down\n9 1 sh -c x\n"
    assert worker_pids(listing) == {7: 1}


def test_a_reload_takes_over_only_once_no_old_worker_accepts() -> None:
    # Old workers keep accepting until they turn to "shutting down": a request in between could
    # still get the previous config (seen: a rollback's first request answered by the old one).
    assert not reload_took({7: 1, 8: 1}, {7: 1, 8: 1})
    assert not reload_took({7: 1, 8: 1}, {7: 1, 9: 1})
    assert reload_took({7: 1, 8: 1}, {9: 1, 10: 1})
    assert not reload_took({7: 1}, {})
    # Another nginx in the container (master 40) keeps its workers: only the reloaded one counts.
    assert reload_took({7: 1, 41: 40}, {9: 1, 41: 40})
    assert not reload_took({7: 1, 41: 40}, {7: 1, 41: 40})


def probe_target(tls: bool = True) -> ProbeTarget:
    return ProbeTarget("shop", "shop.example.com", 443, tls, 502, "<h1>Down</h1>", "app (app)")


def test_probe_answers_are_served_down_or_broken() -> None:
    target = probe_target()
    served = classify(target, "HTTP/1.1 200 OK\r\nServer: nginx\r\n\r\nhello")
    assert (served.verdict, served.status) == ("served", 200)
    down = classify(target, "HTTP/1.1 502 Bad Gateway\r\n\r\n<!doctype html><h1>Down</h1>")
    assert down.verdict == "down" and "service app (app) is down" in down.detail
    other_502 = classify(target, "HTTP/1.1 502 Bad Gateway\r\n\r\nfrom the app")
    assert other_502.verdict == "served"
    assert classify(target, "").verdict == "broken"


def test_a_missing_certificate_names_its_environment_and_the_acme_way(tmp_path: Path) -> None:
    (tmp_path / "shop.yaml").write_text(site("shop.example.com", tls=True), encoding="utf-8")
    plan = generate(tmp_path, Settings()).plan
    path = "/etc/letsencrypt/live/shop.example.com/fullchain.pem"
    message = NginxMessage("emerg", f'cannot load certificate "{path}": BIO_new_file() failed')
    advice = certificate_advice(message, plan.environments)
    assert "environment shop (shop.yaml)" in advice
    assert "ACME webroot on port 80" in advice
    unrelated = NginxMessage("emerg", 'unknown directive "foo"')
    assert certificate_advice(unrelated, plan.environments) == ""


# ---- against a real nginx -------------------------------------------------------------------


class Stack:
    """A project directory, its deployed directory mounted as the proxy's conf.d, the proxy
    and the `app` backend on one user-defined network."""

    def __init__(self, stack: DockerStack, project: Path) -> None:
        self.stack = stack
        self.project = project
        self.deployed = project / "deployed"
        self.deployed.mkdir()
        (project / "environments").mkdir()
        (project / "nginxgen.yaml").write_text('nginx_version: "1.26"\n', encoding="utf-8")
        stack.start_service("app")
        self.nginx = stack.start_nginx(IMAGE, {}, volumes={str(self.deployed): CONF_D})

    @property
    def container(self) -> Any:
        return self.stack.wrapped("nginx")

    def environment(self, name: str, text: str) -> None:
        (self.project / "environments" / f"{name}.yaml").write_text(text, encoding="utf-8")

    def nginx_cli(self, *arguments: str) -> Any:
        return CliRunner().invoke(app, [*arguments, "--container", self.container.name])

    def live(self) -> str:
        return (self.deployed / "nginx-ssl.conf").read_text(encoding="utf-8")

    def get(self, host: str, tls: bool = False) -> Any:
        port = self.stack.port("nginx", 443 if tls else 80)
        return http_get(port, host, tls=tls)

    def put_files(self, files: dict[str, bytes]) -> None:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            for path, data in files.items():
                info = tarfile.TarInfo(path.lstrip("/"))
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
        assert self.container.put_archive("/", buffer.getvalue())


@pytest.fixture
def live_stack(docker_stack: DockerStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Stack:
    monkeypatch.chdir(tmp_path)
    return Stack(docker_stack, tmp_path)


@pytest.mark.nginx
def test_deploy_tests_swaps_reloads_and_serves(live_stack: Stack) -> None:
    live_stack.environment("site", site("site.example.com"))
    result = live_stack.nginx_cli("deploy")
    assert result.exit_code == 0, result.output
    assert "nginx -t passed inside" in result.output
    assert "site: http://site.example.com:80/ served (HTTP 200)" in result.output
    assert "deployed to" in result.output
    response = live_stack.get("site.example.com")
    assert response.status == 200 and "backend=app" in response.body
    versions = list((live_stack.deployed / ".nginxgen" / "versions").iterdir())
    assert len(versions) == 1
    assert versions[0].read_text(encoding="utf-8") == live_stack.live()

    dry = live_stack.nginx_cli("deploy", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "no difference" in dry.output and "dry run: nothing changed" in dry.output

    # A stopped service is reported by its unavailable page, and is no reason to roll back.
    live_stack.stack.remove("app")
    down = live_stack.nginx_cli("deploy")
    assert down.exit_code == 0, down.output
    assert (
        "site: http://site.example.com:80/ down (502, the unavailable page: service app (app)"
        in (down.output)
    )


@pytest.mark.nginx
def test_a_missing_certificate_is_refused_and_the_live_config_keeps_serving(
    live_stack: Stack,
) -> None:
    live_stack.environment("site", site("site.example.com"))
    assert live_stack.nginx_cli("deploy").exit_code == 0
    before = live_stack.live()
    live_stack.environment("shop", site("shop.example.com", tls=True))

    dry = live_stack.nginx_cli("deploy", "--dry-run")
    assert dry.exit_code == 1, dry.output
    assert "+# environment: shop (shop.yaml)" in dry.output

    result = live_stack.nginx_cli("deploy")
    assert result.exit_code == 1, result.output
    assert "cannot load certificate" in result.output
    assert "environment shop (shop.yaml)" in result.output
    assert "ACME webroot on port 80" in result.output
    assert "the live config is untouched and still serving" in result.output
    assert live_stack.live() == before
    assert live_stack.get("site.example.com").status == 200


@pytest.mark.nginx
def test_a_single_file_mount_is_refused(
    docker_stack: DockerStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "site.yaml").write_text(site("site.example.com"))
    single = tmp_path / "out" / "nginx-ssl.conf"
    single.parent.mkdir()
    single.write_text("# nothing yet\n", encoding="utf-8")
    docker_stack.start_nginx(IMAGE, {}, volumes={str(single): f"{CONF_D}/nginx-ssl.conf"})
    name = docker_stack.wrapped("nginx").name
    result = CliRunner().invoke(app, ["deploy", "--container", name])
    assert result.exit_code == 1, result.output
    assert "single-file mount" in result.output
    assert single.read_text(encoding="utf-8") == "# nothing yet\n"


SQUATTER = b"""\
events {}
http {
    server { listen 443; return 200 "squatter"; }
}
"""


@pytest.mark.nginx
def test_a_reload_that_fails_after_the_test_passed_is_rolled_back(live_stack: Stack) -> None:
    live_stack.environment("site", site("site.example.com"))
    assert live_stack.nginx_cli("deploy").exit_code == 0
    before = live_stack.live()
    # The next config adds HTTPS on 443, with its certificate in place, so `nginx -t` (which
    # binds nothing) passes; but another process holds 443 inside the container, so the master's
    # reload cannot bind it and keeps the old config.
    live_stack.environment("shop", site("shop.example.com", tls=True))
    candidate = generate(live_stack.project / "environments", Settings()).text
    live_stack.put_files(
        {**placeholder_files(find_tls_files([candidate])), "/tmp/squatter.conf": SQUATTER}
    )
    live_stack.container.exec_run(
        ["nginx", "-c", "/tmp/squatter.conf", "-g", "daemon off; pid /tmp/squatter.pid;"],
        detach=True,
    )
    wait_for(
        "the squatter on 443",
        lambda: live_stack.container.exec_run(["test", "-f", "/tmp/squatter.pid"]).exit_code,
        lambda exit_code: exit_code == 0,
        timeout=10,
    )

    result = live_stack.nginx_cli("deploy")
    assert result.exit_code == 1, result.output
    assert "nginx -t passed inside" in result.output
    assert "bind() to 0.0.0.0:443 failed" in result.output
    assert "rolled back: the previous config is serving again" in result.output
    assert live_stack.live() == before
    response = live_stack.get("site.example.com")
    assert response.status == 200 and "backend=app" in response.body


@pytest.mark.nginx
def test_rollback_goes_back_to_the_previous_version(live_stack: Stack) -> None:
    live_stack.stack.start_service("app-v2")
    live_stack.environment("site", site("site.example.com"))
    assert live_stack.nginx_cli("deploy").exit_code == 0
    first = live_stack.live()
    live_stack.environment("site", site("site.example.com", host="app-v2"))
    assert live_stack.nginx_cli("deploy").exit_code == 0
    assert "backend=app-v2" in live_stack.get("site.example.com").body

    result = live_stack.nginx_cli("rollback")
    assert result.exit_code == 0, result.output
    assert "rolled back to" in result.output
    assert live_stack.live() == first
    assert "backend=app " in live_stack.get("site.example.com").body

    again = live_stack.nginx_cli("rollback", "--to", "nonexistent")
    assert again.exit_code == 2
    assert "no kept version matches" in again.output


def test_the_commands_that_share_the_project_helpers_do_not_load_docker() -> None:
    # Every command opens its project through commands/project.py, which knows the proxy's
    # mounts and options: `render` must still not load the Docker SDK.
    code = "import sys, nginxgen.commands.render; print('docker' in sys.modules)"
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "False"
