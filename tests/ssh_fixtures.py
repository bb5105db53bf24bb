"""A real OpenSSH server on 127.0.0.1 for the `DOCKER_HOST=ssh://` tests (and anyone else who
needs to reach this machine over SSH, e.g. certificate renewal).

The server is Debian's `/usr/sbin/sshd` (installed, never started, by `scripts/test-infra`) run
in the foreground with a config of its own: a free port bound to 127.0.0.1, a host key and one
authorized key generated into a temporary directory, public keys only. The host's own sshd, its
config and port 22 are never touched. The client side is a home directory of its own (`HOME`):
`.ssh/config`, `known_hosts` and the client key, which paramiko (the Docker SDK's SSH
transport) reads from `~`. The SSH user is the one running the tests; it must be able to run
`docker system dial-stdio` on this machine, as the Docker SDK does on the remote end.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

SSHD = Path("/usr/sbin/sshd")
LOOPBACK = "127.0.0.1"
START_TIMEOUT_SECONDS = 10.0
# sshd as root insists on its privilege-separation directory (Debian's service creates it).
PRIVILEGE_SEPARATION_DIRECTORY = Path("/run/sshd")


@dataclass(frozen=True)
class SshServer:
    """A running sshd: where it listens, who logs in, and the client's home directory."""

    port: int
    user: str
    home: Path
    directory: Path

    @property
    def docker_host(self) -> str:
        return f"ssh://{self.user}@{LOOPBACK}:{self.port}"

    @property
    def config_file(self) -> Path:
        """The client config, for OpenSSH's `ssh -F` (which reads the passwd home, not $HOME)."""
        return self.home / ".ssh" / "config"

    def logins(self) -> int:
        """How many SSH logins the server accepted so far (its log, at level INFO)."""
        log = self.directory / "sshd.log"
        text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
        return text.count("Accepted publickey")

    def environment(self) -> dict[str, str]:
        """What a process needs to reach the Docker daemon through this server."""
        return {"HOME": str(self.home), "DOCKER_HOST": self.docker_host}


def _key_pair() -> tuple[bytes, str]:
    """An ed25519 key: (private key in OpenSSH's format, public key line)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return private, public.decode()


def _secret(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.chmod(0o600)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def _server_config(directory: Path, port: int, user: str) -> str:
    return "\n".join(
        [
            f"Port {port}",
            f"ListenAddress {LOOPBACK}",
            f"HostKey {directory / 'host_ed25519'}",
            f"PidFile {directory / 'sshd.pid'}",
            f"AuthorizedKeysFile {directory / 'authorized_keys'}",
            f"AllowUsers {user}",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password",
            "UsePAM no",
            # The temporary directory is the test's, not a home directory sshd could vet.
            "StrictModes no",
            "LogLevel INFO",
            "",
        ]
    )


def _client_home(home: Path, port: int, user: str, client_key: bytes, host_public: str) -> None:
    ssh = home / ".ssh"
    ssh.mkdir(parents=True, mode=0o700)
    _secret(ssh / "id_ed25519", client_key)
    (ssh / "known_hosts").write_text(f"[{LOOPBACK}]:{port} {host_public}\n", encoding="utf-8")
    (ssh / "config").write_text(
        f"Host {LOOPBACK}\n"
        f"    Port {port}\n"
        f"    User {user}\n"
        f"    IdentityFile {ssh / 'id_ed25519'}\n"
        f"    UserKnownHostsFile {ssh / 'known_hosts'}\n"
        "    IdentitiesOnly yes\n"
        "    BatchMode yes\n",
        encoding="utf-8",
    )


def _wait_for_banner(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), 1) as sock:
            if sock.recv(8).startswith(b"SSH-"):
                return
        time.sleep(0.05)
    process.kill()
    process.wait(timeout=5)
    said = log.read_text(encoding="utf-8", errors="replace").strip() if log.exists() else ""
    pytest.fail(f"sshd on {LOOPBACK}:{port} did not start: {said}", pytrace=False)


@contextlib.contextmanager
def ssh_server(directory: Path) -> Iterator[SshServer]:
    """sshd on a free port of 127.0.0.1 with keys and config in `directory`; stopped on exit."""
    if not SSHD.is_file():
        pytest.fail(f"{SSHD} is missing; run scripts/test-infra", pytrace=False)
    if os.geteuid() == 0:
        PRIVILEGE_SEPARATION_DIRECTORY.mkdir(mode=0o755, exist_ok=True)
    directory.mkdir(parents=True, exist_ok=True)
    user = getpass.getuser()
    host_key, host_public = _key_pair()
    client_key, client_public = _key_pair()
    _secret(directory / "host_ed25519", host_key)
    (directory / "authorized_keys").write_text(client_public + "\n", encoding="utf-8")
    port = _free_port()
    config = directory / "sshd_config"
    config.write_text(_server_config(directory, port, user), encoding="utf-8")
    home = directory / "home"
    _client_home(home, port, user, client_key, host_public)
    # -D: in the foreground, so the process is ours to stop; -E: its log into `directory`.
    log = directory / "sshd.log"
    process = subprocess.Popen(
        [str(SSHD), "-D", "-E", str(log), "-f", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_banner(port, process, log)
        yield SshServer(port=port, user=user, home=home, directory=directory)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    with ssh_server(tmp_path_factory.mktemp("sshd")) as server:
        yield server


@contextlib.contextmanager
def docker_over_ssh(server: SshServer) -> Iterator[None]:
    """Within: this process reaches the Docker daemon as `DOCKER_HOST=ssh://…` through `server`
    (only what runs inside: test fixtures keep talking to the daemon directly)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in server.environment().items():
            patch.setenv(name, value)
        yield
