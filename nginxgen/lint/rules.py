"""The lint rules: what takes an nginx reverse proxy down, and how to say so.

Each rule is a pure function of one directive, the scope it sits in (resolver, `set` variables)
and facts about the whole configuration (upstream names, nginx version). The walk that builds
scopes lives in `engine.py`; rationale and examples for every rule live in `docs/rules.md`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from nginxgen.core.facts import DOCKER_RESOLVER
from nginxgen.core.versions import UPSTREAM_RESOLVE, Version, parse_version
from nginxgen.nginx.config import Directive, children

RESOLVE_IN_OPEN_SOURCE = parse_version(UPSTREAM_RESOLVE)
PASS_DIRECTIVES = frozenset(
    {"proxy_pass", "fastcgi_pass", "uwsgi_pass", "scgi_pass", "grpc_pass", "memcached_pass"}
)
VARIABLE = re.compile(r"\$(?:\{(?P<braced>[A-Za-z0-9_]+)\}|(?P<plain>[A-Za-z0-9_]+))")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Scope:
    """What is in force where a directive sits.

    `block` is the enclosing block directive (None at the top). `set_values` holds the `set`
    directives that run for a request here: the server's own (`server_values`) and the current
    location's, with its `if` blocks. A nested location does not run its parent location's `set`s.
    """

    context: str
    block: Directive | None
    resolver: Directive | None
    set_values: Mapping[str, str]
    server_values: Mapping[str, str]
    named_location: bool = False


@dataclass(frozen=True)
class ConfigFacts:
    """Facts about the whole configuration that a single directive cannot show."""

    upstreams: Mapping[str, Directive]  # lower-cased upstream name -> `upstream` block
    set_anywhere: frozenset[str]  # variables some `set` assigns somewhere
    global_variables: frozenset[str]  # variables from `map`, `geo`, ... (defined everywhere)
    nginx_version: Version | None
    docker: bool
    # `map` variable -> every value it can take (its entries and default)
    map_values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Violation:
    message: str
    hint: str


CheckFunction = Callable[[Directive, Scope, ConfigFacts], Iterator[Violation]]


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    severity: Severity
    summary: str
    directives: frozenset[str]
    check: CheckFunction


# --- addresses -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Address:
    """Where a pass directive or upstream server sends requests."""

    kind: str  # "hostname", "ip", "unix", "localhost", "upstream", "unknown"
    host: str


def classify(address: str, upstreams: Mapping[str, Directive]) -> Address:
    """Classify `http://name:port/path`, `name:port`, `[::1]:80`, `unix:/sock`, ..."""
    rest = SCHEME.sub("", address)
    if rest.startswith("unix:"):
        return Address("unix", rest)
    if rest.startswith("["):
        return Address("ip", rest[1 : rest.find("]")] if "]" in rest else rest)
    host = _host(rest)
    if "$" in host or not host:
        return Address("unknown", host)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return Address("ip", host)
    if host.lower() in upstreams:
        return Address("upstream", host)
    # /etc/hosts answers for localhost; it never depends on another container being up.
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return Address("localhost", host)
    return Address("hostname", host)


def _host(rest: str) -> str:
    return re.split(r"[:/?]", rest, maxsplit=1)[0]


def explicit_port(address: str) -> str | None:
    """The port written after the host of `http://name:port/path` or `name:port`, if any."""
    rest = SCHEME.sub("", address)
    match = re.match(r":(\d+)", rest[len(_host(rest)) :])
    return match.group(1) if match else None


def substitute(text: str, values: Mapping[str, str]) -> str:
    """Replace variables whose value a `set` in scope gives; leave the others in place."""

    def value(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("plain")
        return values.get(name, match.group(0))

    # `set` values may themselves hold variables set earlier; a few rounds resolve chains.
    for _ in range(3):
        replaced = VARIABLE.sub(value, text)
        if replaced == text:
            break
        text = replaced
    return text


def variables_in(text: str) -> list[str]:
    return [match.group("braced") or match.group("plain") for match in VARIABLE.finditer(text)]


def _variable_hint(directive: Directive, host: str) -> str:
    target = directive.args[0]
    variable = "$upstream_" + re.sub(r"[^A-Za-z0-9]+", "_", host).strip("_").lower()
    hint = (
        f"use `resolver {DOCKER_RESOLVER} valid=10s ipv6=off;` and "
        f"`set {variable} {target}; {directive.name} {variable};`"
    )
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
        f"add `resolver {DOCKER_RESOLVER} valid=10s ipv6=off;` to the http block",
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
            f"add valid=10s: `resolver {' '.join(directive.args)} valid=10s;`",
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
            f"use `resolver {DOCKER_RESOLVER} valid=10s ipv6=off;` (or lint with --no-docker)",
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
            f"add `resolver {DOCKER_RESOLVER} valid=10s ipv6=off;` to the http block",
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


ALL_DIRECTIVES = frozenset({"*"})

RULES: tuple[Rule, ...] = (
    Rule(
        "NGX001",
        "upstream-static-hostname",
        Severity.ERROR,
        "upstream server with a hostname and no `resolve`: resolved at startup",
        frozenset({"server"}),
        check_upstream_static_hostname,
    ),
    Rule(
        "NGX002",
        "pass-static-hostname",
        Severity.ERROR,
        "proxy_pass/fastcgi_pass/... to a literal hostname: resolved at startup",
        PASS_DIRECTIVES,
        check_pass_static_hostname,
    ),
    Rule(
        "NGX003",
        "pass-variable-without-resolver",
        Severity.ERROR,
        "pass directive with a variable but no resolver in scope: fails per request",
        PASS_DIRECTIVES,
        check_pass_variable_without_resolver,
    ),
    Rule(
        "NGX004",
        "resolver-without-valid",
        Severity.WARNING,
        "resolver without valid=: stale addresses after a container is recreated",
        frozenset({"resolver"}),
        check_resolver_without_valid,
    ),
    Rule(
        "NGX005",
        "resolver-ipv6-enabled",
        Severity.WARNING,
        "resolver without ipv6=off on a network that usually has no IPv6",
        frozenset({"resolver"}),
        check_resolver_ipv6,
    ),
    Rule(
        "NGX006",
        "resolve-unsupported-version",
        Severity.ERROR,
        "upstream `resolve` with --nginx-version below 1.27.3",
        frozenset({"server"}),
        check_resolve_version,
    ),
    Rule(
        "NGX007",
        "resolve-without-zone",
        Severity.ERROR,
        "upstream `resolve` without a `zone` in the upstream",
        frozenset({"server"}),
        check_resolve_without_zone,
    ),
    Rule(
        "NGX008",
        "resolve-without-resolver",
        Severity.ERROR,
        "upstream `resolve` without a resolver in the upstream or http block",
        frozenset({"server"}),
        check_resolve_without_resolver,
    ),
    Rule(
        "NGX009",
        "variable-set-elsewhere",
        Severity.WARNING,
        "variable assigned by `set` in another location or server, empty here",
        ALL_DIRECTIVES,
        check_variable_set_elsewhere,
    ),
    Rule(
        "NGX010",
        "include-not-found",
        Severity.ERROR,
        "`include` of a file that does not exist",
        frozenset({"include"}),
        check_include_not_found,
    ),
    Rule(
        "NGX011",
        "resolver-not-docker-dns",
        Severity.INFO,
        "resolver other than Docker's embedded DNS 127.0.0.11 (with --docker, the default)",
        frozenset({"resolver"}),
        check_resolver_not_docker,
    ),
    Rule(
        "NGX012",
        "pass-upstream-with-port",
        Severity.ERROR,
        "pass directive naming an `upstream` block with a port: nginx refuses to start",
        PASS_DIRECTIVES,
        check_pass_upstream_with_port,
    ),
    Rule(
        "NGX013",
        "include-outside-tree",
        Severity.INFO,
        "`include` glob outside the configuration's directory: not followed, not linted",
        frozenset({"include"}),
        check_include_outside_tree,
    ),
)
