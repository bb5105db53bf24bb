"""The lint rules: what takes an nginx reverse proxy down, and how to say so — the table.

Each rule names a check function (`checks.py`) and the directives it looks at; the walk that
builds scopes lives in `engine.py`; rationale and examples for every rule live in
`docs/rules.md`.
"""

from __future__ import annotations

from nginxgen.core.facts import DOCKER_RESOLVER
from nginxgen.core.formats import Severity
from nginxgen.lint.checks import (
    PASS_DIRECTIVES,
    check_include_not_found,
    check_include_outside_tree,
    check_keepalive_to_swarm_vip,
    check_pass_static_hostname,
    check_pass_upstream_with_port,
    check_pass_variable_without_resolver,
    check_resolve_version,
    check_resolve_without_resolver,
    check_resolve_without_zone,
    check_resolver_ipv6,
    check_resolver_not_docker,
    check_resolver_without_valid,
    check_upstream_static_hostname,
    check_variable_set_elsewhere,
)
from nginxgen.lint.model import Rule

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
        f"resolver other than Docker's embedded DNS {DOCKER_RESOLVER} (with --docker, the default)",
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
    Rule(
        "NGX014",
        "keepalive-to-swarm-vip",
        Severity.WARNING,
        "upstream keepalive to a service name (a Swarm virtual IP) idle for more than 900 s",
        frozenset({"keepalive_timeout"}),
        check_keepalive_to_swarm_vip,
    ),
)
