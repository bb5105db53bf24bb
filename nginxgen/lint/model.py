"""What the lint rules work with: severities, the scope a directive sits in, facts about the
whole configuration, and the shape of a rule and of what it finds."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from nginxgen.core.formats import Severity
from nginxgen.core.versions import Version
from nginxgen.nginx.config import Directive


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
