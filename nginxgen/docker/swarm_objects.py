"""The proxy's Swarm config and secret objects: content-addressed names, creation, the kept
configs of a service, and pruning.

A config (or secret) is immutable and replicated by Swarm's raft store to every node, so one
name must always mean one content: `nginxgen-<first 12 hex digits of its sha256>` for the
rendered output, `nginxgen-secret-<…>` for a certificate, key or htpasswd file. Creating one
that exists is a no-op. Swarm refuses data of 500 KiB or more; nginxgen refuses it first,
before anything changed, and says what to do instead.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from docker import DockerClient
from docker.errors import APIError, NotFound

from nginxgen.core.errors import UsageError

CONFIG_PREFIX = "nginxgen-"
SECRET_PREFIX = "nginxgen-secret-"
# swarmkit's MaxConfigSize (and MaxSecretSize): the data must be smaller than 500 KiB.
MAX_OBJECT_BYTES = 500 * 1024
# Which service a config was deployed to: the kept configs `rollback` chooses from.
SERVICE_LABEL = "org.nginxgen.service"
# What `docker stack deploy` labels its objects with: the stack's name.
STACK_LABEL = "com.docker.stack.namespace"
CONFIG_NAME = re.compile(r"nginxgen-[0-9a-f]{12}")


def content_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def config_name(text: str) -> str:
    return config_name_of(text.encode("utf-8"))


def config_name_of(data: bytes) -> str:
    """The config's name for the rendered output `data`; `UsageError` when Swarm cannot hold it."""
    check_size("the rendered output", data)
    return CONFIG_PREFIX + content_digest(data)


def secret_name(data: bytes) -> str:
    return SECRET_PREFIX + content_digest(data)


def check_size(what: str, data: bytes) -> None:
    if len(data) >= MAX_OBJECT_BYTES:
        raise UsageError(
            f"{what} is {len(data):,} bytes; a Swarm config or secret must be smaller than "
            f"{MAX_OBJECT_BYTES:,} (500 KiB), so it cannot be deployed through Swarm. Nothing "
            "was changed. Split the environments over several proxies, or use the single-node "
            "bind-mount layout (docs/swarm.md)"
        )


@dataclass(frozen=True)
class KeptConfig:
    name: str
    created: str


def ensure_config(client: DockerClient, text: str, service: str) -> str:
    """The id of the config holding `text` (created, labelled for `service`, when missing)."""
    data = text.encode("utf-8")
    name = config_name_of(data)
    found = client.configs.list(filters={"name": name})
    for config in found:
        if config.name == name:
            return str(config.id)
    try:
        created = client.configs.create(name=name, data=data, labels={SERVICE_LABEL: service})
    except APIError as error:
        raise UsageError(f"cannot create the Swarm config {name}: {error.explanation}") from error
    return str(created.id)


def config_text(client: DockerClient, name: str) -> str:
    """What a config holds (configs, unlike secrets, can be read back)."""
    import base64

    try:
        config: Any = client.configs.get(name)
    except NotFound:
        raise UsageError(f"no Swarm config named {name!r}") from None
    return base64.b64decode(config.attrs["Spec"]["Data"]).decode("utf-8")


def kept_configs(client: DockerClient, service: str, stack: str | None = None) -> list[KeptConfig]:
    """The configs deployed to `service`, newest first: those `deploy` created for it, and the
    output config `docker stack deploy` created for its stack `stack`."""
    found = {
        str(config.name): config
        for config in client.configs.list(filters={"label": f"{SERVICE_LABEL}={service}"})
    }
    if stack:
        for config in client.configs.list(filters={"label": f"{STACK_LABEL}={stack}"}):
            if CONFIG_NAME.fullmatch(str(config.name)):
                found.setdefault(str(config.name), config)
    kept = [
        KeptConfig(name, str(config.attrs.get("CreatedAt", ""))) for name, config in found.items()
    ]
    return sorted(kept, key=lambda config: (config.created, config.name), reverse=True)


def prune_configs(
    client: DockerClient, service: str, stack: str | None, keep: int, in_use: Collection[str]
) -> list[str]:
    """Remove `service`'s configs beyond the `keep` newest, never one in `in_use` (the live one
    and the one Swarm would roll back to); the names removed."""
    removed = []
    for config in kept_configs(client, service, stack)[keep:]:
        if config.name in in_use:
            continue
        try:
            client.configs.get(config.name).remove()
        except (NotFound, APIError):
            continue  # still referenced by some service: Swarm keeps it, so do we
        removed.append(config.name)
    return removed
