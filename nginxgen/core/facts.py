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
# Where `nginxgen compose` keeps certbot's files beside the project (mounted at LETSENCRYPT) and
# the ACME webroot.
CERTBOT_CONF = "./certbot/conf"
CERTBOT_WEBROOT = "./certbot/www"
# Docker Swarm: `tasks.<service>` resolves to the address of every running task of a service,
# while the service name itself resolves to one virtual IP balanced by IPVS, which drops
# connections idle for longer than IPVS's TCP timeout (900 s).
SWARM_TASKS_PREFIX = "tasks."
SWARM_VIP_IDLE_SECONDS = 900


def conf_d_name(name: str) -> str:
    """The name a file gets in conf.d: stock nginx.conf files include `conf.d/*.conf` only, so
    any other name would silently not load."""
    return name if name.endswith(".conf") else f"{name}.conf"
