"""Containers for the benchmarks, through the docker CLI: one network, removed in `close`.

Every published port is bound to 127.0.0.1, and load goes only there.
"""

from __future__ import annotations

import http.client
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

LOOPBACK = "127.0.0.1"
BACKEND_IMAGE = "nginxgen-test/backend:latest"
BACKEND_PORT = 3000
CONF_D = "/etc/nginx/conf.d"


class BenchmarkError(Exception):
    """The benchmark cannot run (no Docker, image missing, nginx did not come up)."""


def docker(*arguments: str, check: bool = True) -> str:
    try:
        completed = subprocess.run(
            ["docker", *arguments], capture_output=True, text=True, timeout=120, check=False
        )
    except FileNotFoundError:
        raise BenchmarkError("docker is not installed; run scripts/test-infra") from None
    if check and completed.returncode != 0:
        raise BenchmarkError(f"docker {' '.join(arguments)}: {completed.stderr.strip()}")
    return completed.stdout


def require_image(image: str) -> None:
    if docker("image", "inspect", image, check=False) == "":
        raise BenchmarkError(f"image {image} is missing; run scripts/test-infra")


def nginx_version(image: str) -> str:
    """`1.30.0` for an image whose `nginx -v` says `nginx version: nginx/1.30.0`."""
    completed = subprocess.run(
        ["docker", "run", "--rm", image, "nginx", "-v"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    text = completed.stderr + completed.stdout
    marker = "nginx/"
    if marker not in text:
        raise BenchmarkError(f"{image}: cannot read the nginx version from {text!r}")
    return text.split(marker, 1)[1].split()[0]


def get(port: int, host: str, path: str = "/", timeout: float = 3.0) -> tuple[int, str]:
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


@dataclass
class Stack:
    """Containers on one user-defined network, so Docker's DNS (127.0.0.11) serves them."""

    work: Path
    prefix: str = field(default_factory=lambda: f"nginxgen-bench-{os.getpid()}")
    containers: list[str] = field(default_factory=list)
    network: str | None = None

    def __post_init__(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        name = f"{self.prefix}-net"
        docker("network", "create", name)
        self.network = name

    def start_backend(self, alias: str, hostname: str | None = None) -> str:
        """A backend answering `backend=<hostname>` on port 3000, reachable as `alias`."""
        hostname = hostname or alias
        return self._run(
            f"backend-{hostname}",
            ["--network-alias", alias, "--hostname", hostname],
            BACKEND_IMAGE,
        )

    def start_nginx(
        self, name: str, image: str, files: dict[str, str], sysctls: dict[str, str] | None = None
    ) -> int:
        """nginx with `files` (name → text) in conf.d; returns the port published for 80."""
        directory = self.work / name
        directory.mkdir(parents=True)
        options: list[str] = ["-p", f"{LOOPBACK}::80"]
        for file_name, text in files.items():
            path = directory / file_name
            path.write_text(text, encoding="utf-8")
            options += ["-v", f"{path}:{CONF_D}/{file_name}:ro"]
        for key, value in (sysctls or {}).items():
            options += ["--sysctl", f"{key}={value}"]
        container = self._run(name, options, image)
        binding = docker("port", container, "80/tcp").split()[0]
        host, port = binding.rsplit(":", 1)
        if host != LOOPBACK:
            raise BenchmarkError(f"{container}: port 80 published on {host}, not {LOOPBACK}")
        return int(port)

    def wait_until_serving(
        self, port: int, host: str, path: str = "/", timeout: float = 30.0
    ) -> None:
        deadline = time.monotonic() + timeout
        last: object = "nothing yet"
        while time.monotonic() < deadline:
            try:
                status, body = get(port, host, path)
                if status == 200 and body.startswith("backend="):
                    return
                last = (status, body[:80])
            except (OSError, http.client.HTTPException) as error:
                last = error
            time.sleep(0.2)
        raise BenchmarkError(f"127.0.0.1:{port} did not proxy within {timeout:g} s: {last!r}")

    def time_wait(self, container: str) -> int:
        """Sockets in TIME_WAIT in the container's network namespace."""
        text = docker("exec", container, "cat", "/proc/net/tcp", "/proc/net/tcp6", check=False)
        return sum(1 for line in text.splitlines()[1:] if line.split()[3:4] == ["06"])

    def logs(self, container: str) -> str:
        completed = subprocess.run(
            ["docker", "logs", "--tail", "20", container],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return completed.stdout + completed.stderr

    def close(self) -> None:
        for container in reversed(self.containers):
            docker("rm", "-f", container, check=False)
        self.containers.clear()
        if self.network:
            docker("network", "rm", self.network, check=False)
            self.network = None

    def _run(self, name: str, options: list[str], image: str) -> str:
        container = f"{self.prefix}-{name}"
        # Registered first, so that a container that fails to start is removed too.
        self.containers.append(container)
        assert self.network is not None
        docker("run", "-d", "--name", container, "--network", self.network, *options, image)
        return container
