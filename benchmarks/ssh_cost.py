"""SSH cost: `nginxgen deploy` and `status` against a real proxy, through the local Docker socket
and through `DOCKER_HOST=ssh://` (a real sshd on 127.0.0.1, tests/ssh_fixtures.py), and what one
Docker call costs each way. Figures are printed, never asserted.

    python -m benchmarks.ssh_cost [--runs 3] [--image nginxgen-test/nginx:trixie]

Over SSH the SDK (paramiko) keeps one SSH connection per command, but every HTTP connection is
a new channel running `docker system dial-stdio` on the server, and an exec consumes one (its
stream is hijacked), so the number of execs is what an SSH deploy pays for.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
from docker.models.containers import Container

from benchmarks.cli_latency import nginxgen_command
from benchmarks.docker_stack import BenchmarkError, Stack, require_image
from nginxgen.core.facts import CONF_D

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from ssh_fixtures import SshServer, ssh_server  # noqa: E402

MAIN_CONFIG = "/etc/nginx/nginx.conf"
COUNTED = ("exec_run", "get_archive", "put_archive", "reload")
DEFAULT_IMAGE = "nginxgen-test/nginx:trixie"  # nginx 1.26, as the project below targets
SITE = "domains: [site.example.com]\ntls: false\nservices:\n  app: {host: app, port: 3000}\n"
ROUTES = (
    "routes:\n  - {path: /, service: app}\n",
    "routes:\n  - {path: /, service: app}\n  - {path: /v2/, service: app}\n",
)


def _project(directory: Path, variant: int) -> None:
    (directory / "environments").mkdir(parents=True, exist_ok=True)
    (directory / "nginxgen.yaml").write_text('nginx_version: "1.26"\n', encoding="utf-8")
    (directory / "environments" / "site.yaml").write_text(
        SITE + ROUTES[variant % 2], encoding="utf-8"
    )


def _run(command: list[str], cwd: Path, environment: dict[str, str]) -> tuple[float, int, str]:
    started = time.monotonic()
    result = subprocess.run(
        command, cwd=cwd, env=environment, capture_output=True, timeout=300, check=False, text=True
    )
    return time.monotonic() - started, result.returncode, result.stdout + result.stderr


def _median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.0f}"


def _call_costs(client: docker.DockerClient, name: str, runs: int) -> dict[str, str]:
    container = client.containers.get(name)
    three = ["date +%s", "nginx -v", "test -d /etc/nginx"]
    calls: dict[str, Callable[[], object]] = {
        "exec (`true`)": lambda: container.exec_run(["true"]),
        "inspect": container.reload,
        "read a file (archive)": lambda: b"".join(container.get_archive(MAIN_CONFIG)[0]),
        # What merging exec round trips saves: the same three commands, apart and in one sh.
        "three commands, three execs": lambda: [
            container.exec_run(["sh", "-c", command]) for command in three
        ],
        "three commands, one exec": lambda: container.exec_run(["sh", "-c", "; ".join(three)]),
    }
    costs = {}
    for label, call in calls.items():
        samples = []
        for _ in range(runs):
            started = time.monotonic()
            call()
            samples.append(time.monotonic() - started)
        costs[label] = _median_ms(samples)
    return costs


@contextlib.contextmanager
def _counted() -> Iterator[collections.Counter[str]]:
    """Counts the Docker SDK calls the command makes in this process (and their time, in ms)."""
    counts: collections.Counter[str] = collections.Counter()
    originals = {
        name: getattr(Container, name)
        for name in ("exec_run", "get_archive", "put_archive", "reload")
    }

    def wrap(name: str, original: Any) -> Any:
        def counted(self: Container, *args: Any, **kwargs: Any) -> Any:
            started = time.monotonic()
            try:
                return original(self, *args, **kwargs)
            finally:
                counts[name] += 1
                counts[f"{name} ms"] += round((time.monotonic() - started) * 1000)

        return counted

    for name, original in originals.items():
        setattr(Container, name, wrap(name, original))
    try:
        yield counts
    finally:
        for name, original in originals.items():
            setattr(Container, name, original)


def _deploy_calls(
    project: Path, proxy: str, environment: dict[str, str]
) -> collections.Counter[str]:
    from typer.testing import CliRunner

    from nginxgen.cli import app

    cwd = Path.cwd()
    os.chdir(project)
    try:
        with _environ(environment), _counted() as counts:
            result = CliRunner().invoke(app, ["deploy", "--container", proxy])
        if result.exit_code != 0:
            raise BenchmarkError(f"deploy failed: {result.output}")
    finally:
        os.chdir(cwd)
    return counts


def _modes(server: SshServer) -> dict[str, dict[str, str]]:
    local = {key: value for key, value in os.environ.items() if key != "DOCKER_HOST"}
    return {"local socket": local, "ssh:// (paramiko)": {**local, **server.environment()}}


def measure(image: str, runs: int, work: Path) -> None:
    require_image(image)
    stack = Stack(work / "stack")
    project = work / "project"
    deployed = project / "deployed"
    deployed.mkdir(parents=True)
    try:
        stack.start_backend("app")
        stack.start_nginx("proxy", image, {}, volumes={str(deployed): CONF_D})
        proxy = f"{stack.prefix}-proxy"
        with ssh_server(work / "sshd") as server:
            modes = _modes(server)
            print(
                f"ssh cost: {runs} runs per figure, proxy {image}, sshd on 127.0.0.1:{server.port}"
            )
            print()
            print("| one Docker call | " + " | ".join(modes) + " |")
            print("| --- | " + " | ".join("---:" for _ in modes) + " |")
            costs = {}
            for mode, environment in modes.items():
                with _environ(environment):
                    client = docker.from_env(use_ssh_client=False)
                    costs[mode] = _call_costs(client, proxy, runs * 3)
                    client.close()
            for label in next(iter(costs.values())):
                print(f"| {label}, ms | " + " | ".join(costs[mode][label] for mode in modes) + " |")
            print()
            print("| command (a new process each) | " + " | ".join(modes) + " |")
            print("| --- | " + " | ".join("---:" for _ in modes) + " |")
            for command in (["deploy", "--container", proxy], ["status", "--container", proxy]):
                row = []
                for mode, environment in modes.items():
                    samples = []
                    for index in range(runs):
                        _project(project, index)
                        seconds, code, output = _run(
                            nginxgen_command(command), project, environment
                        )
                        if command[0] == "deploy" and code != 0:
                            raise BenchmarkError(f"deploy over {mode} exited {code}: {output}")
                        samples.append(seconds)
                    row.append(f"{statistics.median(samples):.2f}")
                print(f"| `{command[0]}`, s | " + " | ".join(row) + " |")
            print()
            print("| Docker calls of one deploy | " + " | ".join(modes) + " |")
            print("| --- | " + " | ".join("---:" for _ in modes) + " |")
            counted = {}
            for index, (mode, environment) in enumerate(modes.items()):
                _project(project, index + 1)
                counted[mode] = _deploy_calls(project, proxy, environment)
            for name in COUNTED:
                cells = [f"{counted[m][name]} ({counted[m][name + ' ms']} ms)" for m in modes]
                print(f"| {name} | " + " | ".join(cells) + " |")
            print(f"\nSSH logins accepted in all: {server.logins()}")
    finally:
        stack.close()


@contextlib.contextmanager
def _environ(environment: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(environment)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--image", default=DEFAULT_IMAGE)
    options = parser.parse_args(argv)
    if not 1 <= options.runs <= 20:
        parser.error("--runs must be 1..20")
    try:
        with tempfile.TemporaryDirectory(prefix="nginxgen-ssh-cost-") as work:
            measure(options.image, options.runs, Path(work))
    except BenchmarkError as error:
        print(f"ssh cost: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
