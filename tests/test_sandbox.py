"""The sandbox for throwaway nginx: started, answering, logs read, and nothing left afterwards,
whether the block ended well, raised, or was interrupted by Ctrl-C while nginx was starting; a
command that hangs is stopped."""

from __future__ import annotations

import os
import signal
import struct
import threading
import time
from typing import Any

import pytest
from nginx_fixtures import require_image

from nginxgen.nginx.echo import ECHO_HEADER, parse_echo
from nginxgen.nginx.loopback import request
from nginxgen.nginx.sandbox import (
    RUN_LABEL,
    Echo,
    NginxDidNotStart,
    Sandbox,
    SandboxTimeout,
    demultiplexed,
    interrupts_deferred,
    labelled,
)

IMAGE = "nginxgen-test/nginx:bookworm"
CONF = "/etc/nginx/conf.d/sandbox.conf"
# nginx resolves `app` once at startup, through Docker's DNS on the sandbox's network.
PROXY = b"server { listen 80 default_server; location / { proxy_pass http://app:3000; } }\n"
# Listens where nobody asks: the wait for an answer on port 80 lasts until it times out.
DEAF = b"server { listen 8080; }\n"


def frame(stream: int, data: bytes) -> bytes:
    return struct.pack(">BxxxI", stream, len(data)) + data


def test_the_exec_stream_is_read_back_frame_by_frame() -> None:
    raw = frame(1, b"nginx version: ") + frame(2, b"nginx/1.30.0\n") + b"\x01\x00"
    assert demultiplexed(raw) == b"nginx version: nginx/1.30.0\n"


def test_ctrl_c_while_cleaning_up_waits_until_it_is_done() -> None:
    finished = []
    with pytest.raises(KeyboardInterrupt), interrupts_deferred():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        finished.append(True)
    assert finished == [True]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.nginx
def test_nginx_starts_answers_and_everything_goes(docker_client: Any) -> None:
    require_image(docker_client, IMAGE)
    with Sandbox("sandbox-test", client=docker_client) as sandbox:
        echo = sandbox.start_echo(IMAGE, "echo", Echo((3000,)), aliases=["app"], hostname="app")
        nginx = sandbox.start_nginx(IMAGE, {CONF: PROXY}, ready_host="site.test")
        assert sorted(labelled(docker_client, sandbox.run_id)) == sorted(
            [f"container {echo.name}", f"container {nginx.name}", f"network {sandbox.network}"]
        )
        answer = request(nginx.port(80), "site.test", "/some/path?q=1")
        assert answer.status == 200
        assert ECHO_HEADER.lower() in answer.headers
        received = parse_echo(answer.body)
        assert (received.hostname, received.uri, received.port) == ("app", "/some/path?q=1", 3000)
        assert received.headers["host"] == "app:3000"
        assert "start worker process" in echo.logs()
        assert nginx.exec(["nginx", "-v"]).output.startswith("nginx version: nginx/")
        published = nginx.docker.attrs["NetworkSettings"]["Ports"]["443/tcp"]
        assert {binding["HostIp"] for binding in published} == {"127.0.0.1"}
    assert labelled(docker_client, sandbox.run_id) == []


@pytest.mark.nginx
def test_everything_goes_after_an_exception(docker_client: Any) -> None:
    require_image(docker_client, IMAGE)
    sandbox = Sandbox("sandbox-test", client=docker_client)
    with pytest.raises(NginxDidNotStart, match="nginx did not start"), sandbox:
        sandbox.start_nginx(IMAGE, {CONF: b"server { listen 80; bogus; }\n"}, ready_host="x")
    assert labelled(docker_client, sandbox.run_id) == []


@pytest.mark.nginx
def test_everything_goes_after_ctrl_c_while_nginx_starts(docker_client: Any) -> None:
    require_image(docker_client, IMAGE)
    sandbox = Sandbox("sandbox-test", client=docker_client)
    seen: list[str] = []

    def press_ctrl_c_once_nginx_runs() -> None:
        running = {"label": f"{RUN_LABEL}={sandbox.run_id}", "status": "running"}
        deadline = time.monotonic() + 60
        while not seen and time.monotonic() < deadline:
            seen.extend(item.name for item in docker_client.containers.list(filters=running))
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)

    watcher = threading.Thread(target=press_ctrl_c_once_nginx_runs, daemon=True)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt), sandbox:
        watcher.start()
        sandbox.start_nginx(IMAGE, {CONF: DEAF}, ready_host="site.test")
    watcher.join()
    # Interrupted while waiting for nginx to answer, long before that wait would give up.
    assert seen == [f"nginxgen-sandbox-test-{sandbox.run_id}-nginx"]
    assert time.monotonic() - started < 25
    assert labelled(docker_client, sandbox.run_id) == []


@pytest.mark.nginx
def test_a_command_that_hangs_is_stopped(docker_client: Any) -> None:
    require_image(docker_client, IMAGE)
    with Sandbox("sandbox-test", network=False, client=docker_client) as sandbox:
        container = sandbox.start(IMAGE, "hang", entrypoint=["sleep"], command=["600"])
        begun = time.monotonic()
        with pytest.raises(SandboxTimeout, match="ran longer than 1 s"):
            container.exec(["sleep", "60"], timeout=1)
        assert time.monotonic() - begun < 10
        # Without `timeout` in the image, the deadline on reading the output still holds.
        removed = container.exec(["sh", "-c", 'rm "$(command -v timeout)"'])
        assert removed.exit_code == 0, removed.output
        begun = time.monotonic()
        with pytest.raises(SandboxTimeout, match="no end within"):
            container.exec(["sleep", "60"], timeout=1)
        assert time.monotonic() - begun < 15
    assert labelled(docker_client, sandbox.run_id) == []
