"""Fixed addresses, paths and names of Docker and nginx that several parts of nginxgen rely on."""

from __future__ import annotations

# Docker's embedded DNS: answers inside containers on user-defined (and overlay) networks only.
DOCKER_RESOLVER = "127.0.0.11"
# nginx's configuration prefix in Debian's packages and the official images.
NGINX_PREFIX = "/etc/nginx"
CONF_D = f"{NGINX_PREFIX}/conf.d"
LETSENCRYPT = "/etc/letsencrypt"
# Where certbot's webroot challenges are served from inside the proxy (compose mounts
# ./certbot/www there), unless an environment's `tls.acme_webroot` says otherwise.
ACME_WEBROOT = "/var/www/certbot"
# How long nginx keeps an answer of Docker's DNS (`resolver … valid=`): how long a removed
# container's address is still tried. nginxgen.yaml's `resolver_valid` default, and what lint
# advises for hand-written configs.
RESOLVER_VALID = "2s"
# Deployed versions kept in the proxy's deployed/.nginxgen/versions (deploy --keep).
KEPT_VERSIONS = 10
# Where `nginxgen compose` keeps certbot's files beside the project (mounted at LETSENCRYPT) and
# the ACME webroot.
CERTBOT_CONF = "./certbot/conf"
CERTBOT_WEBROOT = "./certbot/www"
# Docker Swarm: `tasks.<service>` resolves to the address of every running task of a service,
# while the service name itself resolves to one virtual IP balanced by IPVS, which drops
# connections idle for longer than IPVS's TCP timeout (900 s).
SWARM_TASKS_PREFIX = "tasks."
SWARM_VIP_IDLE_SECONDS = 900
# A Host no environment serves (`.invalid` is reserved, RFC 2606): what route tests and probes
# send to see the default server, or a catch-all environment, answer.
UNKNOWN_NAME = "unknown-host.nginxgen.invalid"

# nginx keeps every declared variable in a hash whose buckets are `variables_hash_bucket_size`
# bytes (default: the CPU's cache line, 64 on x86-64 and arm64); a name takes 8 + its length + 2
# rounded up to 8, plus an 8-byte end mark, so a longer name stops nginx from starting ("could
# not build variables_hash"). Measured with nginx 1.22: 46 starts, 47 does not.
MAX_VARIABLE_NAME_BYTES = 46
# nginx's default size of every `*_hash_bucket_size`: the CPU's cache line.
HASH_BUCKET_BYTES = 64


def hash_bucket_size(longest_name: int) -> int | None:
    """The `*_hash_bucket_size` a hash needs to hold a name of `longest_name` bytes: None when
    the default (64) holds it, else the smallest power of two that does (nginx rounds the size
    up to a multiple of the cache line anyway). A name takes 8 + its length + 2 rounded up to 8,
    plus the bucket's 8-byte end mark: 46 bytes fit in 64, 47 need 128, 111 need 256."""
    needed = (8 + longest_name + 2 + 7) // 8 * 8 + 8
    if needed <= HASH_BUCKET_BYTES:
        return None
    size = HASH_BUCKET_BYTES
    while size < needed:
        size *= 2
    return size


def proxy_image(configured: str | None, nginx_version: str) -> str:
    """The nginx image of the proxy: nginxgen.yaml's `check.image`, else the official image of
    the nginx the output targets. `compose` and `stack` run it; `check` tests with it."""
    return configured or f"nginx:{nginx_version}"


def conf_d_name(name: str) -> str:
    """The name a file gets in conf.d: stock nginx.conf files include `conf.d/*.conf` only, so
    any other name would silently not load."""
    return name if name.endswith(".conf") else f"{name}.conf"
