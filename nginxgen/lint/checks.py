"""The rule functions: each a pure function of one directive, its scope and the facts about
the whole configuration, yielding what is wrong. Rationale and examples: `docs/rules.md`."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence

from nginxgen.core.facts import (
    DOCKER_RESOLVER,
    RESOLVER_VALID,
    SWARM_TASKS_PREFIX,
    SWARM_VIP_IDLE_SECONDS,
)
from nginxgen.core.versions import UPSTREAM_RESOLVE, parse_version
from nginxgen.lint.addresses import (
    SCHEME,
    classify,
    explicit_port,
    substitute,
    variables_in,
)
from nginxgen.lint.model import ConfigFacts, Scope, Violation
from nginxgen.nginx.config import Directive, children

RESOLVE_IN_OPEN_SOURCE = parse_version(UPSTREAM_RESOLVE)
PASS_DIRECTIVES = frozenset(
    {"proxy_pass", "fastcgi_pass", "uwsgi_pass", "scgi_pass", "grpc_pass", "memcached_pass"}
)

# The resolver lint advises: the one nginxgen generates.
RESOLVER_LINE = f"resolver {DOCKER_RESOLVER} valid={RESOLVER_VALID} ipv6=off;"


def _variable_hint(directive: Directive, host: str) -> str:
    target = directive.args[0]
    variable = "$upstream_" + re.sub(r"[^A-Za-z0-9]+", "_", host).strip("_").lower()
    hint = f"use `{RESOLVER_LINE}` and `set {variable} {target}; {directive.name} {variable};`"
    if directive.name == "proxy_pass" and "/" in SCHEME.sub("", target):
        hint += " (a path in a variable URL replaces the whole request URI: move it to a rewrite)"
    return hint


# --- the checks ------------------------------------------------------------------------------


def check_upstream_static_hostname(
    directive: Directive, scope: Scope, facts: ConfigFacts
) -> Iterator[Violation]:
    if scope.context != "upstream" or not directive.args or "resolve" in directive.args:
        return
    address = classify(directive.args[0], {})
    # nginx expands no variables in an upstream: `${HOST}` is a host name, looked up literally.
    literal_variable = address.kind == "unknown" and "$" in address.host
    if address.kind != "hostname" and not literal_variable:
        return
    upstream = scope.block.args[0] if scope.block and scope.block.args else "NAME"
    if literal_variable:
        yield Violation(
            f'upstream "{upstream}" server "{directive.args[0]}" is resolved once at startup '
            f'as the literal name "{address.host}" (nginx expands no variables in an upstream); '
            f"nginx will not start",
            "write the host name itself (substitute it before nginx reads the file, e.g. with "
            "envsubst), or proxy through a `set` variable with a resolver instead",
        )
        return
    yield Violation(
        f'upstream "{upstream}" server "{directive.args[0]}" is resolved once at startup; '
        f'nginx will not start while "{address.host}" does not resolve',
        f"add `zone {upstream} 64k;` and `server {directive.args[0]} resolve;` "
        f"(nginx >= 1.27.3) with a resolver, or proxy through a variable instead",
    )


def check_pass_static_hostname(
    directive: Directive, scope: Scope, facts: ConfigFacts
) -> Iterator[Violation]:
    if not directive.args or "$" in directive.args[0]:
        return
    address = classify(directive.args[0], facts.upstreams)
    if address.kind != "hostname":
        return
    yield Violation(
        f'{directive.name} "{directive.args[0]}" resolves "{address.host}" once at startup; '
        f"nginx will not start while it does not resolve",
        _variable_hint(directive, address.host),
    )


def check_pass_variable_without_resolver(
    directive: Directive, scope: Scope, facts: ConfigFacts
) -> Iterator[Violation]:
    if not directive.args or "$" not in directive.args[0] or scope.resolver is not None:
        return
    target = directive.args[0]
    resolved = substitute(target, scope.set_values)
    if all(
        classify(candidate, facts.upstreams).kind in NO_RESOLVER_NEEDED
        for candidate in _map_candidates(resolved, facts.map_values)
    ):
        return
    shown = f'"{target}"' + (f' (= "{resolved}")' if resolved != target else "")
    yield Violation(
        f"{directive.name} {shown} is resolved per request, but no resolver is in scope: "
        f"requests fail with 502",
        f"add `{RESOLVER_LINE}` to the http block",
    )


NO_RESOLVER_NEEDED = frozenset({"ip", "unix", "upstream"})


def _map_candidates(target: str, map_values: Mapping[str, tuple[str, ...]]) -> list[str]:
    """`target` with its one `map` variable replaced by each value the map gives it.

    Anything else (no map variable, or several) is returned as it is, for `classify` to judge.
    """
    mapped = {name for name in variables_in(target) if name in map_values}
    if len(mapped) != 1:
        return [target]
    (name,) = mapped
    pattern = re.compile(rf"\$(?:\{{{re.escape(name)}\}}|{re.escape(name)}(?![A-Za-z0-9_]))")
    # A replacement string reads backslashes as escapes; doubled, they stay literal.
    return [pattern.sub(value.replace("\\", "\\\\"), target) for value in map_values[name]]


def check_pass_upstream_with_port(
    directive: Directive, scope: Scope, facts: ConfigFacts
) -> Iterator[Violation]:
    if not directive.args or "$" in directive.args[0]:
        return
    target = directive.args[0]
    address = classify(target, facts.upstreams)
    port = explicit_port(target)
    if address.kind != "upstream" or port is None:
        return
    without_port = target.replace(f"{address.host}:{port}", address.host, 1)
    yield Violation(
        f'{directive.name} "{target}" gives upstream "{address.host}" a port; nginx will not '
        f'start: upstream "{address.host}" may not have port {port}',
        f"drop the port (`{directive.name} {without_port};`): the upstream's server lines "
        f"carry the ports",
    )


def _resolver_options(directive: Directive) -> tuple[list[str], dict[str, str]]:
    addresses = [arg for arg in directive.args if "=" not in arg]
    options = dict(arg.split("=", 1) for arg in directive.args if "=" in arg)
    return addresses, options


def check_resolver_without_valid(
    directive: Directive, scope: Scope, facts: ConfigFacts
) -> Iterator[Violation]:
    _, options = _resolver_options(directive)
    if "valid" not in options:
        yield Violation(
            "resolver without valid= caches answers for their TTL (600s from Docker's DNS): "
            "a recreated container keeps getting requests at its old address",
            f"add valid={RESOLVER_VALID}: "
            f"`resolver {' '.join(directive.args)} valid={RESOLVER_VALID};`",
        )


def check_resolver_ipv6(
    directive: Directive, scope: Scope, facts: ConfigFacts
) -> Iterator[Violation]:
    _, options = _resolver_options(directive)
    if options.get("ipv6", "on") != "off":
        yield Violation(
            "resolver looks up IPv6 addresses too; Docker networks usually have none, so "
            "nginx may try addresses it cannot reach",
            "add ipv6=off unless the network really has IPv6",
        )


def check_resolver_not_docker(
    directive: Directive, scope: Scope, facts: ConfigFacts
) -> Iterator[Violation]:
    if not facts.docker:
        return
    addresses, _ = _resolver_options(directive)
    hosts = {
        address.rsplit(":", 1)[0] if address.count(":") == 1 else address for address in addresses
    }
    if DOCKER_RESOLVER not in hosts:
        yield Violation(
            f"resolver {' '.join(addresses)} is not Docker's embedded DNS ({DOCKER_RESOLVER}), "
            f"which is the one that knows container names",
            f"use `{RESOLVER_LINE}` (or lint with --no-docker)",
        )


def _is_resolving_upstream_server(directive: Directive, scope: Scope) -> bool:
    return scope.context == "upstream" and "resolve" in directive.args[1:]


def check_resolve_version(
    directive: Directive, scope: Scope, facts: ConfigFacts
) -> Iterator[Violation]:
    version = facts.nginx_version
    if version is None or not _is_resolving_upstream_server(directive, scope):
        return
    if version < RESOLVE_IN_OPEN_SOURCE:
        shown = ".".join(str(part) for part in version)
        yield Violation(
            f"the resolve parameter needs nginx >= 1.27.3 (open source); {shown} rejects it "
            f"and will not start",
            "upgrade nginx, or proxy through a variable with a resolver instead of an upstream",
        )


def check_resolve_without_zone(
    directive: Directive, scope: Scope, facts: ConfigFacts
) -> Iterator[Violation]:
    if not _is_resolving_upstream_server(directive, scope) or scope.block is None:
        return
    if not any(child.name == "zone" for child in children(scope.block)):
        name = scope.block.args[0] if scope.block.args else "NAME"
        yield Violation(
            f'server "{directive.args[0]}" uses resolve but upstream "{name}" has no zone; '
            f"nginx refuses to start",
            f"add `zone {name} 64k;` to the upstream block",
        )


def check_resolve_without_resolver(
    directive: Directive, scope: Scope, facts: ConfigFacts
) -> Iterator[Violation]:
    if _is_resolving_upstream_server(directive, scope) and scope.resolver is None:
        yield Violation(
            f'server "{directive.args[0]}" uses resolve but no resolver is defined in the '
            f"upstream or the http block; nginx refuses to start",
            f"add `{RESOLVER_LINE}` to the http block",
        )


def check_variable_set_elsewhere(
    directive: Directive, scope: Scope, facts: ConfigFacts
) -> Iterator[Violation]:
    # A named location is reached by internal redirect, which keeps the variables already set.
    if scope.context not in {"server", "location", "if", "limit_except"} or scope.named_location:
        return
    args = directive.args[1:] if directive.name == "set" else directive.args
    reported: set[str] = set()
    for arg in args:
        for name in variables_in(arg):
            if (
                name in facts.set_anywhere
                and name not in facts.global_variables
                and name not in scope.set_values
                and name not in reported
            ):
                reported.add(name)
                yield Violation(
                    f"${name} is set by `set` in another location or server, not here: "
                    f"it is empty in this {scope.context}",
                    f"set ${name} in this location (or once at server level)",
                )


def check_include_not_found(
    directive: Directive, scope: Scope, facts: ConfigFacts
) -> Iterator[Violation]:
    if directive.include_missing:
        yield Violation(
            f'included file "{directive.args[0]}" does not exist; nginx will not start',
            "create the file, fix the path, or use a glob if it may legitimately be absent",
        )


def check_include_outside_tree(
    directive: Directive, scope: Scope, facts: ConfigFacts
) -> Iterator[Violation]:
    if directive.include_outside:
        yield Violation(
            f'include "{directive.args[0]}" is a glob outside the configuration\'s directory: '
            f"not followed, so the files it matches are not linted",
            "lint those files too (give their directory as another PATH), or include them by "
            "a path under the configuration's directory",
        )


_TIME_UNITS = {
    "ms": 0.001,
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 604800,
    "M": 2592000,
    "y": 31536000,
}
_TIME_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|M|y)?")


def nginx_seconds(value: str) -> float | None:
    """nginx's time syntax (`75`, `15m`, `1h30m`, `500ms`) in seconds; None if malformed."""
    parts = re.findall(r"\d+(?:ms|s|m|h|d|w|M|y)?", value)
    if not parts or "".join(parts) != value:
        return None
    total = 0.0
    for part in parts:
        match = _TIME_PART.fullmatch(part)
        assert match is not None
        total += int(match.group(1)) * _TIME_UNITS[match.group(2) or "s"]
    return total


def check_keepalive_to_swarm_vip(
    directive: Directive, scope: Scope, facts: ConfigFacts
) -> Iterator[Violation]:
    if not facts.docker or scope.context != "upstream" or scope.block is None:
        return
    if not _outlives_swarm_vip(directive):
        return
    block = list(children(scope.block))
    if not any(child.name == "keepalive" for child in block):
        return
    names = _possible_vip_names(block)
    if not names:
        return
    upstream = scope.block.args[0] if scope.block.args else "NAME"
    host = classify(names[0], {}).host
    yield Violation(
        f'upstream "{upstream}" keeps idle connections for {directive.args[0]} to "{names[0]}"; '
        f'if "{host}" is a Docker Swarm service its name is a virtual IP, and IPVS drops '
        f"connections idle for more than {SWARM_VIP_IDLE_SECONDS} s without telling nginx: "
        f"requests sent on them fail",
        f"address the tasks (`server {SWARM_TASKS_PREFIX}{names[0]} resolve;`) or set "
        f"`keepalive_timeout {SWARM_VIP_IDLE_SECONDS}s;` or less",
    )


def _outlives_swarm_vip(keepalive_timeout: Directive) -> bool:
    """Whether idle connections are kept longer than IPVS keeps them (malformed: no)."""
    args = keepalive_timeout.args
    seconds = nginx_seconds(args[0]) if args else None
    return seconds is not None and seconds > SWARM_VIP_IDLE_SECONDS


def _possible_vip_names(block: Sequence[Directive]) -> list[str]:
    """The upstream's servers given by a host name other than `tasks.<service>`: a Swarm
    service's name resolves to its virtual IP."""
    return [
        child.args[0]
        for child in block
        if child.name == "server"
        and child.args
        and classify(child.args[0], {}).kind == "hostname"
        and not child.args[0].lower().startswith(SWARM_TASKS_PREFIX)
    ]
