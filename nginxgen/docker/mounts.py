"""The proxy's mounts, one definition for `nginxgen compose`, `nginxgen stack` and the deploy's
checks of a running proxy: which host directory goes where, and which are read-only.

`./deployed` is the live directory, mounted as conf.d and written only by `deploy` (after the
candidate passed `nginx -t` in the proxy); `render` writes `out/`, which the proxy must never
mount, or a plain render would wait there, untested, for the next restart.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from nginxgen.core.facts import CERTBOT_CONF, CERTBOT_WEBROOT, CONF_D, LETSENCRYPT

DEPLOYED = "./deployed"
HTPASSWD = "./htpasswd"
# The layout the refusals advise: exactly the line `nginxgen compose` prints.
DEPLOYED_MOUNT = f"{DEPLOYED}:{CONF_D}"


@dataclass(frozen=True)
class ProxyMount:
    source: str
    target: str
    read_only: bool

    def __str__(self) -> str:
        return f"{self.source}:{self.target}" + (":ro" if self.read_only else "")


def numbered_sources(base: str, targets: Iterable[str]) -> list[tuple[str, str]]:
    """The first target gets `base`, the others `base` + their own path, so none collide."""
    return [
        (base if index == 0 else f"{base}{target}", target)
        for index, target in enumerate(sorted(targets))
    ]


def proxy_mounts(
    https: bool, webroots: Iterable[str], htpasswd_directories: Iterable[str]
) -> list[ProxyMount]:
    """The deployed directory read-write (deploy swaps the tested file in there by rename),
    the certificates and ACME webroots when a site serves HTTPS, the htpasswd directories."""
    mounts = [ProxyMount(DEPLOYED, CONF_D, read_only=False)]
    if https:
        mounts.append(ProxyMount(CERTBOT_CONF, LETSENCRYPT, read_only=True))
    # certbot writes challenges to the first webroot; others are the user's own directories.
    for base, targets in ((CERTBOT_WEBROOT, webroots), (HTPASSWD, htpasswd_directories)):
        mounts += [
            ProxyMount(source, target, read_only=True)
            for source, target in numbered_sources(base, targets)
        ]
    return mounts
