"""How environment and service names become nginx names: variables, upstreams, rate-limit zones.

nginx variable names ignore case and cannot hold `-`, so `shop-staging` and `shop_staging`
become the same name; the rules refuse such pairs.
"""

from __future__ import annotations

import hashlib

from nginxgen.core.facts import SWARM_TASKS_PREFIX


def variable_part(name: str) -> str:
    """The part of an nginx variable name a YAML name becomes (variables ignore case)."""
    return name.replace("-", "_").lower()


def upstream_variable(environment: str, service: str) -> str:
    return f"upstream_{variable_part(environment)}_{variable_part(service)}"


def upstream_name(environment: str, service: str) -> str:
    return f"nginxgen_{variable_part(environment)}_{variable_part(service)}"


def fallback_variable(upstream: str, index: int) -> str:
    return f"{upstream}_fallback_{index}"


def fallback_listen(upstream: str, index: int, attempt: int = 0) -> str:
    """A loopback address of its own for an upstream's fallback server, on port 80: the whole of
    127.0.0.0/8 reaches the container's loopback, and nginx tells servers on one port apart by
    the address a connection came to, so no port is taken and no file is left behind (a unix
    socket's file would outlive a killed nginx and stop it from starting again). Derived from
    the upstream's name, so it stays the same whatever else the configuration holds; the plan
    moves the later of two that would share one (one in 16 million) to its next `attempt`."""
    digest = hashlib.sha256(f"{upstream}/{index}/{attempt}".encode()).digest()
    return f"127.{digest[0]}.{digest[1]}.{1 + digest[2] % 254}:80"


def rate_limit_zone(environment: str, index: int) -> str:
    return f"nginxgen_{variable_part(environment)}_{index}"


def reached_host(host: str, platform: str, strategy: str) -> str:
    """The name nginx resolves for a service host: on swarm with upstream-resolve, every task
    (`tasks.<host>`); otherwise the host itself (on swarm: the service's virtual IP)."""
    if platform == "swarm" and strategy == "upstream-resolve":
        return f"{SWARM_TASKS_PREFIX}{host}"
    return host


def cors_variable(environment: str, index: int) -> str:
    return f"nginxgen_cors_{variable_part(environment)}_{index}"


def maintenance_variable(environment: str) -> str:
    return f"nginxgen_maintenance_{variable_part(environment)}"


def auth_variable(environment: str, scope: str) -> str:
    return f"nginxgen_auth_{variable_part(environment)}_{scope}"


def auth_header_variable(header: str) -> str:
    """Where `auth_request_set` keeps an auth response header (per request, so one name serves
    every environment)."""
    return f"nginxgen_auth_{variable_part(header)}"
