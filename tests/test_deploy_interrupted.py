"""Interrupted deploys (`docker/deploy_flow.py`, `docker/journal.py`): real signals sent to a
real `nginxgen deploy` process paused at each step of a deploy (the NGINXGEN_TEST_PAUSE_AT hook),
an exception in the middle of the critical section, and a kill that Python never sees. After
each: nginx serves exactly the file on disk, every site answers, or status says that a deploy was
interrupted and how to settle it."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from docker.errors import APIError
from nginx_fixtures import DockerStack, http_get, wait_for
from test_deploy import SQUATTER
from test_status import put_files
from typer.testing import CliRunner

from nginxgen.cli import app
from nginxgen.docker import deploy_flow
from nginxgen.docker.journal import Journal
from nginxgen.generation.models import Settings
from nginxgen.generation.pipeline import generate
from nginxgen.nginx.placeholder_certs import find_tls_files, placeholder_files

IMAGE = "nginxgen-test/nginx:trixie"
CONF_D = "/etc/nginx/conf.d"
BACKENDS = ("app", "app-v2")
NGINXGEN = [sys.executable, "-c", "from nginxgen.cli import main; main()"]
PROCESS_TIMEOUT_SECONDS = 120


def site(host: str) -> str:
    return (
        "domains: [site.example.com]\ntls: false\n"
        f"services:\n  app: {{host: {host}, port: 3000}}\n"
        "routes:\n  - {path: /, service: app}\n"
    )


def test_a_journal_says_where_a_deploy_stopped_and_how_to_settle_it() -> None:
    entry = Journal("reload", "aaaaaaaaaaaa", "bbbbbbbbbbbb", "20261208T000000.000Z-aaaa.conf", "t")
    assert Journal.from_json(entry.to_json()) == entry
    said = entry.explain(None, "proxy-1")
    assert "interrupted at step reload" in said and "nginx in proxy-1 may still serve" in said
    assert "`nginxgen deploy`" in said and "`nginxgen rollback --to aaaaaaaaaaaa`" in said
    assert Journal.from_json("{not json").step.startswith("unknown")


def default_signals() -> None:
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_DFL)


class Live:
    """This project, its `deployed/` mounted as the proxy's conf.d, two backends that answer
    with their names: what nginx serves shows which config it runs."""

    def __init__(self, stack: DockerStack, project: Path) -> None:
        self.stack, self.project = stack, project
        self.deployed = project / "deployed"
        self.deployed.mkdir()
        (project / "environments").mkdir()
        (project / "nginxgen.yaml").write_text('nginx_version: "1.26"\n', encoding="utf-8")
        for backend in BACKENDS:
            stack.start_service(backend)
        stack.start_nginx(IMAGE, {}, volumes={str(self.deployed): CONF_D})
        self.name = str(stack.wrapped("nginx").name)

    def want(self, backend: str) -> None:
        (self.project / "environments" / "site.yaml").write_text(site(backend), encoding="utf-8")

    def on_disk(self) -> str:
        """The backend the live file on disk names."""
        text = (self.deployed / "nginx-ssl.conf").read_text(encoding="utf-8")
        [backend] = [name for name in BACKENDS if f"{name}:3000" in text]
        return backend

    def served(self) -> str:
        response = http_get(self.stack.port("nginx", 80), "site.example.com")
        assert response.status == 200, response
        return response.body.split("backend=", 1)[1].split()[0]

    def assert_consistent(self) -> None:
        """nginx serves exactly the file on disk (asked a few times: any worker answers)."""
        for _ in range(5):
            assert self.served() == self.on_disk()

    def cli(self, *arguments: str) -> Any:
        return CliRunner().invoke(app, [*arguments, "--container", self.name])

    def deploy_process(self, step: str, seconds: float) -> subprocess.Popen[str]:
        environment = {
            **os.environ,
            deploy_flow.PAUSE_VARIABLE: step,
            deploy_flow.PAUSE_SECONDS_VARIABLE: str(seconds),
        }
        return subprocess.Popen(
            [*NGINXGEN, "deploy", "--container", self.name],
            cwd=self.project,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # As from a terminal: a test run started in the background would pass SIGINT on
            # ignored, and nginxgen leaves an ignored signal ignored.
            preexec_fn=default_signals,
        )


def connects(proxy: Any, host: str) -> bool:
    """Whether `host:3000` accepts a connection from inside the proxy."""
    script = f"exec 3<>/dev/tcp/{host}/3000"
    return int(proxy.exec_run(["bash", "-c", script]).exit_code) == 0


@pytest.fixture
def live(docker_stack: DockerStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Live:
    monkeypatch.chdir(tmp_path)
    live = Live(docker_stack, tmp_path)
    live.want("app")
    first = live.cli("deploy")
    assert first.exit_code == 0, first.output
    # The backends answer before any test asks which config nginx serves.
    proxy = docker_stack.wrapped("nginx")
    for backend in BACKENDS:
        wait_for(
            f"{backend} accepting connections",
            functools.partial(connects, proxy, backend),
            bool,
            timeout=30,
        )
    return live


def wait_until_paused(process: subprocess.Popen[str], step: str) -> list[str]:
    """stderr lines up to the pause at `step` (the process says so when it gets there)."""
    assert process.stderr is not None
    seen = []
    for line in iter(process.stderr.readline, ""):
        seen.append(line)
        if f"paused at {step}" in line:
            return seen
    process.wait(timeout=PROCESS_TIMEOUT_SECONDS)
    pytest.fail(f"the deploy ended before step {step}: {''.join(seen)}", pytrace=False)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


# Where a signal arrives, and what the deploy then does: before the swap it stops with nothing
# changed; from the swap on it finishes first (the candidate live, on disk and kept).
POINTS = [
    ("tested", "stopped before any change"),
    ("swapped", "deployed"),
    ("reloaded", "deployed"),
    ("probed", "deployed"),
]


@pytest.mark.nginx
@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
def test_a_signal_at_any_step_leaves_nginx_serving_the_file_on_disk(
    live: Live, processes: list[subprocess.Popen[str]], signal_number: signal.Signals
) -> None:
    for step, ending in POINTS:
        before = live.on_disk()
        new = next(backend for backend in BACKENDS if backend != before)
        live.want(new)
        process = live.deploy_process(step, seconds=3)
        processes.append(process)
        wait_until_paused(process, step)
        process.send_signal(signal_number)
        stdout, stderr = process.communicate(timeout=PROCESS_TIMEOUT_SECONDS)
        said = f"{step}: {stdout}{stderr}"
        assert process.returncode == 130, said
        assert f"nginxgen: interrupted ({signal_number.name}): " in stderr, said
        assert ending in stderr, said
        if step == "tested":
            assert live.on_disk() == before, said
        else:
            assert f"{signal_number.name} received: finishing the swap first" in stderr, said
            assert live.on_disk() == new, said
        live.assert_consistent()
        status = live.cli("status")
        assert "error: deploy:" not in status.output, said + status.output
        assert not (live.deployed / ".nginxgen" / "deploy-journal.json").exists()


@pytest.mark.nginx
def test_a_signal_while_restoring_a_failed_reload_still_restores(
    live: Live, processes: list[subprocess.Popen[str]]
) -> None:
    # The next config adds HTTPS on 443, its certificate in place, so `nginx -t` (which binds
    # nothing) passes; another nginx holds 443 inside the container, so the reload fails.
    before = live.on_disk()
    (live.project / "environments" / "shop.yaml").write_text(
        "domains: [shop.example.com]\nservices:\n  app: {host: app, port: 3000}\n"
        "routes:\n  - {path: /, service: app}\n",
        encoding="utf-8",
    )
    candidate = generate(live.project / "environments", Settings()).text
    proxy = live.stack.wrapped("nginx")
    put_files(
        proxy, {**placeholder_files(find_tls_files([candidate])), "/tmp/squatter.conf": SQUATTER}
    )
    proxy.exec_run(
        ["nginx", "-c", "/tmp/squatter.conf", "-g", "daemon off; pid /tmp/squatter.pid;"],
        detach=True,
    )
    wait_for(
        "the squatter on 443",
        lambda: proxy.exec_run(["test", "-f", "/tmp/squatter.pid"]).exit_code,
        lambda exit_code: exit_code == 0,
        timeout=10,
    )
    process = live.deploy_process("restoring", seconds=3)
    processes.append(process)
    lines = wait_until_paused(process, "restoring")
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=PROCESS_TIMEOUT_SECONDS)
    said = "".join(lines) + stdout + stderr
    assert process.returncode == 130, said
    assert "bind() to 0.0.0.0:443 failed" in stdout, said
    assert "nginxgen: interrupted (SIGINT): rolled back: the previous config is serving" in said
    assert live.on_disk() == before
    live.assert_consistent()


@pytest.mark.nginx
def test_an_exception_after_the_swap_restores_the_previous_config(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = live.on_disk()
    live.want("app-v2")

    def failing_probe(*_: object) -> None:
        raise APIError("the Docker daemon went away")

    monkeypatch.setattr(deploy_flow, "probe", failing_probe)
    result = live.cli("deploy")
    assert result.exit_code == 3, result.output
    assert "APIError during the deploy: putting the previous config back" in result.output
    assert "rolled back: the previous config is serving again" in result.output
    assert live.on_disk() == before
    live.assert_consistent()
    assert not (live.deployed / ".nginxgen" / "deploy-journal.json").exists()


@pytest.mark.nginx
@pytest.mark.parametrize("settle", ["deploy", "rollback"])
def test_a_kill_mid_deploy_leaves_a_journal_that_status_reports_and_the_next_run_settles(
    live: Live, processes: list[subprocess.Popen[str]], settle: str
) -> None:
    live.want("app-v2")
    process = live.deploy_process("swapped", seconds=60)
    processes.append(process)
    wait_until_paused(process, "swapped")
    process.kill()
    process.wait(timeout=PROCESS_TIMEOUT_SECONDS)
    # On disk: the candidate; nginx still serves the previous config.
    assert live.on_disk() == "app-v2" and live.served() == "app"

    status = live.cli("status")
    assert status.exit_code == 1, status.output
    assert "error: deploy: a deploy was interrupted at step swap" in status.output
    assert "may still serve another config" in status.output
    assert "Settle it: `nginxgen deploy`" in status.output

    settled = live.cli(settle)
    assert settled.exit_code == 0, settled.output
    assert "earlier: a deploy was interrupted at step swap" in settled.output
    live.assert_consistent()
    assert live.served() == ("app-v2" if settle == "deploy" else "app")
    after = live.cli("status")
    assert "error: deploy:" not in after.output, after.output
    assert not (live.deployed / ".nginxgen" / "deploy-journal.json").exists()


# Between the named steps too: a signal after a delay spread over a whole deploy (the render,
# nginx -t, the reload's wait, the probes, the version), counted from nginxgen's first line,
# without any pause.
DELAYS = (0.0, 0.3, 0.6, 1.0, 1.4, 1.8, 2.4, 3.2)


@pytest.mark.nginx
def test_a_signal_at_any_moment_leaves_nginx_serving_the_file_on_disk(
    live: Live, processes: list[subprocess.Popen[str]]
) -> None:
    endings = []
    for index, delay in enumerate(DELAYS):
        new = next(backend for backend in BACKENDS if backend != live.on_disk())
        live.want(new)
        process = live.deploy_process("nowhere", seconds=0)
        processes.append(process)
        assert process.stderr is not None
        first = process.stderr.readline()
        time.sleep(delay)
        process.send_signal(signal.SIGINT if index % 2 else signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=PROCESS_TIMEOUT_SECONDS)
        stderr = first + stderr
        said = f"after {delay} s: exit {process.returncode}: {stdout}{stderr}"
        # Finished before the signal (0), stopped or finished with it (130), or killed by it
        # while Python started or shut down, nginxgen's handlers not (or no longer) there.
        assert process.returncode in (0, 130, -signal.SIGINT, -signal.SIGTERM), said
        live.assert_consistent()
        assert not (live.deployed / ".nginxgen" / "deploy-journal.json").exists(), said
        said_last = stderr.strip().splitlines()[-1:] or [""]
        endings.append(f"{process.returncode} {said_last[0][:70]}")
    print(
        "\n".join(
            f"after {delay} s: {ending}" for delay, ending in zip(DELAYS, endings, strict=True)
        )
    )
