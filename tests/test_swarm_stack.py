"""`nginxgen stack`: the proxy's stack for a multi-node swarm, and the Swarm objects' names (no
Docker; tests/test_swarm_nodes.py deploys the printed stack on three nodes)."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import pytest
import yaml
from swarm_support import CASE, SWARM_130, invoke
from swarm_support import project as project  # the fixture
from typer.testing import CliRunner

from nginxgen.cli import app
from nginxgen.core.errors import UsageError
from nginxgen.docker.swarm_objects import MAX_OBJECT_BYTES, config_name, config_name_of

KEY = "/etc/letsencrypt/live/staging.daatan.com/privkey.pem"


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def test_the_stack_runs_a_task_per_node_from_a_content_addressed_config(project: Path) -> None:
    invoke(project, "render")
    output = (project / "out" / "nginx-ssl.conf").read_bytes()
    text = invoke(project, "stack", "--http-port", "8080", "--network", "edge")
    document = yaml.safe_load(text)
    name = f"nginxgen-{digest(output)}"
    assert document["configs"] == {name: {"name": name, "file": "./out/nginx-ssl.conf"}}
    assert document["networks"] == {
        "edge": {"name": "edge", "driver": "overlay", "attachable": True}
    }
    nginx = document["services"]["nginx"]
    assert nginx["configs"] == [
        {"source": name, "target": "/etc/nginx/conf.d/nginx-ssl.conf", "mode": 0o444}
    ]
    # Nothing that exists on one host only: no bind mount of the output.
    assert "volumes" not in nginx and "secrets" not in nginx
    assert nginx["ports"] == [{"target": 80, "published": 8080, "protocol": "tcp", "mode": "host"}]
    deploy = nginx["deploy"]
    assert deploy["mode"] == "global"
    assert deploy["update_config"] == {
        "parallelism": 1,
        "order": "stop-first",
        "failure_action": "rollback",
        "monitor": "10s",
        "delay": "2s",
    }
    # The health check asks nginx for a domain it serves, with bash alone (no curl).
    test = nginx["healthcheck"]["test"]
    assert test[:3] == ["CMD", "bash", "-c"] and test[-1] == "legacy.example.test"
    assert "/dev/tcp/127.0.0.1/80" in test[3] and "$$line" in test[3]
    assert nginx["stop_signal"] == "SIGQUIT"
    # legacy.yaml uses the variable strategy: a connection per request needs tw_reuse.
    assert nginx["sysctls"] == {"net.ipv4.tcp_tw_reuse": 1}
    assert f"the Swarm config {name}" in text
    assert "networks: {edge: {external: true}}" in text


def test_certificates_are_secrets_named_after_this_node_s_files(project: Path) -> None:
    shutil.rmtree(project / "environments")
    shutil.copytree(CASE.parent / "shipped" / "environments", project / "environments")
    (project / "nginxgen.yaml").write_text(SWARM_130, encoding="utf-8")
    invoke(project, "render")
    missing = CliRunner().invoke(app, ["stack", "--settings", "nginxgen.yaml"])
    assert missing.exit_code == 2
    assert "./certbot/conf/live/daatan.com/fullchain.pem: cannot read it" in missing.output
    # Each file the plan needs, as the issuing node has it: the stack names the next missing one.
    contents: dict[str, bytes] = {}
    while found := re.search(r"\./certbot/conf/(\S+\.pem): cannot read", missing.output):
        contents[f"/etc/letsencrypt/{found[1]}"] = f"pem of {found[1]}".encode()
        local = project / "certbot" / "conf" / found[1]
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(contents[f"/etc/letsencrypt/{found[1]}"])
        missing = CliRunner().invoke(app, ["stack", "--settings", "nginxgen.yaml"])
    assert KEY in contents and len(contents) >= 4, contents
    document = yaml.safe_load(invoke(project, "stack", "--https-port", "8443"))
    nginx = document["services"]["nginx"]
    assert nginx["ports"][1] == {
        "target": 443,
        "published": 8443,
        "protocol": "tcp",
        "mode": "host",
    }
    names = {path: f"nginxgen-secret-{digest(data)}" for path, data in contents.items()}
    assert nginx["secrets"] == [
        {"source": names[path], "target": path, "mode": 0o400} for path in sorted(names)
    ]
    assert document["secrets"][names[KEY]] == {
        "name": names[KEY],
        "file": "./certbot/conf/live/staging.daatan.com/privkey.pem",
    }
    # Only the ACME webroot stays a (read-only) bind mount.
    assert nginx["volumes"] == [
        {
            "type": "bind",
            "source": "./certbot/www",
            "target": "/var/www/certbot",
            "read_only": True,
        }
    ]
    assert "sysctls" not in nginx


def test_the_stack_needs_the_rendered_output(project: Path) -> None:
    result = CliRunner().invoke(app, ["stack", "--settings", "nginxgen.yaml"])
    assert result.exit_code == 2
    assert "./out/nginx-ssl.conf: cannot read it" in result.output


def test_a_config_of_500_kib_or_more_is_refused_saying_what_to_do() -> None:
    assert config_name_of(b"x" * (MAX_OBJECT_BYTES - 1)).startswith("nginxgen-")
    with pytest.raises(UsageError, match=r"must be smaller than 512,000 \(500 KiB\)"):
        config_name_of(b"x" * MAX_OBJECT_BYTES)
    assert config_name("same") == config_name("same") != config_name("other")


def test_the_stack_file_refuses_a_network_name_that_is_not_one(project: Path) -> None:
    result = CliRunner().invoke(
        app, ["stack", "--settings", "nginxgen.yaml", "--network", "a b\n#"]
    )
    assert result.exit_code == 2
    assert "network 'a b\\n#'" in result.output
