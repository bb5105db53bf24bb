"""Fixed addresses, paths and names of Docker and nginx that several parts of nginxgen rely on."""

from __future__ import annotations

# Docker's embedded DNS: answers inside containers on user-defined (and overlay) networks only.
DOCKER_RESOLVER = "127.0.0.11"
# nginx's configuration prefix in Debian's packages and the official images.
NGINX_PREFIX = "/etc/nginx"
CONF_D = f"{NGINX_PREFIX}/conf.d"
# The image `check` runs when neither the command line nor nginxgen.yaml names one.
DEFAULT_IMAGE = "nginx:stable"
LETSENCRYPT = "/etc/letsencrypt"


def conf_d_name(name: str) -> str:
    """The name a file gets in conf.d: stock nginx.conf files include `conf.d/*.conf` only, so
    any other name would silently not load."""
    return name if name.endswith(".conf") else f"{name}.conf"
