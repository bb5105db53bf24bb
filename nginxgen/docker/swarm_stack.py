"""The proxy's stack for a multi-node Docker Swarm, as data (`nginxgen stack` prints it).

Nothing in it exists on one host only, so a task starts on any node:

- the rendered output is a Swarm **config** (`nginxgen-<sha256 prefix>`, from the output file
  when `docker stack deploy` runs) mounted at conf.d; certificates and htpasswd files are
  **secrets** (`nginxgen-secret-<sha256 prefix>`) from the files of the node that runs `docker
  stack deploy` — the one that issued them. Content-addressed names: a changed file is a new
  object, and Swarm rolls the change out;
- `mode: global` (one task per node) with ports in `mode: host`: the client's own address
  reaches nginx, and an external load balancer sends to every node;
- updates `parallelism: 1`, `order: stop-first` (with host-mode ports a start-first task waits
  for the port forever: "host-mode port already in use"), `failure_action: rollback` after a
  `monitor` window, so at most one node is out at a time and a failing config goes back;
- a health check that proves the task serves without curl: an HTTP status line from nginx on
  port 80 for a domain it serves, through bash's `/dev/tcp` (Debian-based images, the official
  one included, have bash; Alpine-based ones do not);
  Swarm marks a task running only once it passed, which is what deploy waits for;
- `endpoint_mode: dnsrr`: nobody addresses the proxy by a virtual IP, and kernels without
  IPVS have none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# What the health check runs: a HEAD request for the first environment's domain ($1; the default
# server closes unknown hosts without an answer) must get a status line. `$$` is the stack
# file's escape for one `$`.
HEALTH_SCRIPT = (
    "exec 3<>/dev/tcp/127.0.0.1/80 "
    "&& printf 'HEAD / HTTP/1.0\\r\\nHost: %s\\r\\n\\r\\n' \"$$1\" >&3 "
    "&& IFS= read -r -t 3 line <&3 && [[ $$line == HTTP/* ]]"
)
MONITOR = "10s"
# nginx's graceful shutdown: requests in flight finish (the official image's STOPSIGNAL too).
STOP_SIGNAL = "SIGQUIT"
STOP_GRACE_PERIOD = "30s"


def healthcheck(host: str) -> dict[str, Any]:
    return {
        "test": ["CMD", "bash", "-c", HEALTH_SCRIPT, "health", host],
        "interval": "2s",
        "timeout": "4s",
        "retries": 3,
        "start_period": "30s",
    }


def update_policy() -> dict[str, Any]:
    return {
        "parallelism": 1,
        "order": "stop-first",
        "failure_action": "rollback",
        "monitor": MONITOR,
        "delay": "2s",
    }


def multi_node_service(
    *,
    image: str,
    network: str,
    ports: Sequence[dict[str, Any]],
    config: tuple[str, str],
    secrets: Mapping[str, str],
    volumes: Sequence[dict[str, Any]],
    health_host: str,
) -> dict[str, Any]:
    """The proxy service: `config` is (name, target), `secrets` target → secret name,
    `health_host` a domain nginx serves on port 80."""
    name, target = config
    service: dict[str, Any] = {
        "image": image,
        "networks": [network],
        "ports": list(ports),
        "configs": [{"source": name, "target": target, "mode": 0o444}],
    }
    if secrets:
        service["secrets"] = [
            {"source": secret, "target": path, "mode": 0o400}
            for path, secret in sorted(secrets.items())
        ]
    if volumes:
        service["volumes"] = list(volumes)
    service["healthcheck"] = healthcheck(health_host)
    service["stop_signal"] = STOP_SIGNAL
    service["stop_grace_period"] = STOP_GRACE_PERIOD
    service["deploy"] = {
        "mode": "global",
        "endpoint_mode": "dnsrr",
        "update_config": update_policy(),
        "rollback_config": {"parallelism": 1, "order": "stop-first", "monitor": MONITOR},
        "restart_policy": {"condition": "any"},
    }
    return service


def stack_objects(
    config: tuple[str, str], secret_files: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    """The stack's top-level `configs` and `secrets`: `config` is (name, local file),
    `secret_files` secret name → local file."""
    name, source = config
    objects: dict[str, dict[str, Any]] = {"configs": {name: {"name": name, "file": source}}}
    if secret_files:
        objects["secrets"] = {
            secret: {"name": secret, "file": source}
            for secret, source in sorted(secret_files.items())
        }
    return objects
