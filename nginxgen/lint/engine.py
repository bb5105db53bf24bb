"""Lint nginx configuration for what takes a reverse proxy down: walk, scope, run the rules.

`lint_paths` reads files (or `-` for stdin, e.g. an `nginx -T` dump); `lint_text` lints text
already in memory, which is how the generator checks its own output. Both return a
`LintResult`; formatting lives in `lint/formats.py`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from nginxgen.core.errors import UsageError
from nginxgen.core.formats import Severity
from nginxgen.core.versions import Version, parse_version
from nginxgen.lint.model import ConfigFacts, Rule, Scope
from nginxgen.lint.rules import RULES
from nginxgen.nginx.config import (
    Directive,
    ParsedConfig,
    children,
    flatten,
    load_path,
    load_text,
    read_stdin,
    walk,
    walk_scoped,
)

# Directives whose block defines variables for every request, wherever they are used.
GLOBAL_VARIABLE_BLOCKS = frozenset({"map", "geo", "split_clients", "perl_set", "js_set"})
# Lines of a `map` block that are settings, not entries.
MAP_PARAMETERS = frozenset({"hostnames", "volatile"})


@dataclass(frozen=True)
class LintOptions:
    """Which rules run and what they assume. `select` empty means every rule."""

    select: frozenset[str] = frozenset()
    ignore: frozenset[str] = frozenset()
    nginx_version: Version | None = None
    docker: bool = True

    @classmethod
    def from_strings(
        cls,
        select: str | Sequence[str] | None = None,
        ignore: str | Sequence[str] | None = None,
        nginx_version: str | None = None,
        docker: bool = True,
    ) -> LintOptions:
        """Build options from command-line text; unknown codes or versions are usage errors."""
        return cls(
            select=resolve_codes(select),
            ignore=resolve_codes(ignore),
            nginx_version=_option_version(nginx_version) if nginx_version else None,
            docker=docker,
        )

    def enabled(self, rule: Rule) -> bool:
        return (not self.select or rule.code in self.select) and rule.code not in self.ignore


def resolve_codes(values: str | Sequence[str] | None) -> frozenset[str]:
    """Rule codes from `NGX001,NGX004` or rule names; a prefix like `NGX00` selects several."""
    if not values:
        return frozenset()
    items = [values] if isinstance(values, str) else list(values)
    wanted = [part.strip() for item in items for part in item.split(",") if part.strip()]
    codes: set[str] = set()
    for item in wanted:
        matching = {
            rule.code
            for rule in RULES
            if rule.name == item.lower() or rule.code.startswith(item.upper())
        }
        if not matching:
            known = ", ".join(rule.code for rule in RULES)
            raise UsageError(f"unknown lint rule {item!r} (known: {known})")
        codes |= matching
    return frozenset(codes)


def _option_version(text: str) -> Version:
    try:
        return parse_version(text)
    except ValueError:
        raise UsageError(f"--nginx-version must look like 1.27.3, not {text!r}") from None


@dataclass(frozen=True, order=True)
class Finding:
    file: str
    line: int
    column: int
    code: str
    name: str
    severity: Severity
    message: str
    hint: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.code} {self.message}"


@dataclass(frozen=True)
class LintResult:
    findings: tuple[Finding, ...]
    files: tuple[str, ...] = field(default=())

    @property
    def failed(self) -> bool:
        """Errors and warnings fail; info findings alone do not."""
        return any(finding.severity is not Severity.INFO for finding in self.findings)

    def count(self, severity: Severity) -> int:
        return sum(1 for finding in self.findings if finding.severity is severity)


def lint_paths(
    paths: Iterable[Path | str], options: LintOptions, stdin: TextIO | None = None
) -> LintResult:
    """Lint files, directories (their nginx.conf, else every *.conf) and `-` (stdin)."""
    configs: list[ParsedConfig] = []
    for path in paths:
        if str(path) == "-":
            configs.append(load_text(read_stdin(stdin or sys.stdin), "<stdin>", dump=True))
            continue
        path = Path(path)
        if path.is_dir():
            main = path / "nginx.conf"
            roots = [main] if main.is_file() else sorted(path.glob("*.conf"))
            if not roots:
                raise UsageError(f"{path}: no nginx.conf or *.conf files to lint")
            configs.extend(load_path(root) for root in roots)
        else:
            configs.append(load_path(path))
    return _lint_configs(configs, options)


def lint_text(text: str, name: str, options: LintOptions, *, dump: bool) -> LintResult:
    """Lint config text in memory, parsing it once: one plain file (`dump=False`, how the
    generator checks its own output) or an `nginx -T` dump split into its files (`dump=True`)."""
    return _lint_configs([load_text(text, name, dump=dump)], options)


def _lint_configs(configs: Iterable[ParsedConfig], options: LintOptions) -> LintResult:
    rules = [rule for rule in RULES if options.enabled(rule)]
    findings: set[Finding] = set()
    files: list[str] = []
    for config in configs:
        files.extend(config.files)
        findings.update(lint_config(config, rules, options))
    return LintResult(findings=tuple(sorted(findings)), files=tuple(dict.fromkeys(files)))


def lint_config(
    config: ParsedConfig, rules: Sequence[Rule], options: LintOptions
) -> Iterator[Finding]:
    facts = _facts(config, options)
    by_directive: dict[str, list[Rule]] = {}
    for rule in rules:
        for name in rule.directives:
            by_directive.setdefault(name, []).append(rule)
    top_resolver = next((d for d in flatten(config.directives) if d.name == "resolver"), None)
    scope = Scope(config.context, None, top_resolver, set_values={}, server_values={})
    for directive, directive_scope in walk_scoped(config.directives, scope, _enter):
        for rule in by_directive.get(directive.name, []) + by_directive.get("*", []):
            for violation in rule.check(directive, directive_scope, facts):
                yield Finding(
                    file=directive.file,
                    line=directive.line,
                    column=directive.column,
                    code=rule.code,
                    name=rule.name,
                    severity=rule.severity,
                    message=violation.message,
                    hint=violation.hint,
                )


def _facts(config: ParsedConfig, options: LintOptions) -> ConfigFacts:
    upstreams: dict[str, Directive] = {}
    set_anywhere: set[str] = set()
    global_variables: set[str] = set()
    map_values: dict[str, tuple[str, ...]] = {}
    for directive in walk(config.directives):
        if directive.name == "upstream" and directive.args:
            upstreams.setdefault(directive.args[0].lower(), directive)
        elif directive.name == "set" and directive.args:
            set_anywhere.add(directive.args[0].lstrip("$"))
        elif directive.name in GLOBAL_VARIABLE_BLOCKS and directive.args:
            global_variables.add(directive.args[-1].lstrip("$"))
            if directive.name == "map" and len(directive.args) == 2:
                map_values[directive.args[-1].lstrip("$")] = _map_values(directive)
    return ConfigFacts(
        upstreams=upstreams,
        set_anywhere=frozenset(set_anywhere),
        global_variables=frozenset(global_variables),
        nginx_version=options.nginx_version,
        docker=options.docker,
        map_values=map_values,
    )


def _map_values(block: Directive) -> tuple[str, ...]:
    """Every value a `map` can give: its entries' and its default's. (Without a default an
    unmatched request gets an empty value: a broken URL, but not a name to resolve.)"""
    values = [
        entry.args[-1]
        for entry in children(block)
        if entry.name not in MAP_PARAMETERS and len(entry.args) == 1
    ]
    return tuple(dict.fromkeys(values))


def _enter(block: Directive, outer: Scope) -> Scope:
    own = list(children(block))
    resolver = next((child for child in own if child.name == "resolver"), None) or outer.resolver
    if block.name == "upstream":
        # An upstream sees its own resolver or the http block's, never a server's.
        return Scope("upstream", block, resolver, outer.set_values, outer.server_values)
    if block.name == "server":
        values = _set_values(own)
        return Scope("server", block, resolver, values, values)
    if block.name == "location":
        # A location runs the server's `set`s and its own, not an enclosing location's.
        values = {**outer.server_values, **_set_values(own)}
        named = bool(block.args) and block.args[0].startswith("@")
        return Scope("location", block, resolver, values, outer.server_values, named)
    # http, if, limit_except, stream, events, ...: variables as outside, resolver inherited.
    return Scope(
        block.name,
        block,
        resolver,
        outer.set_values,
        outer.server_values,
        outer.named_location,
    )


def _set_values(directives: Iterable[Directive]) -> dict[str, str]:
    """`set`s that run in this block: its own and those in its `if` blocks, in order."""
    values: dict[str, str] = {}
    for directive in directives:
        if directive.name == "set" and len(directive.args) >= 2:
            values[directive.args[0].lstrip("$")] = directive.args[1]
        elif directive.name == "if":
            values.update(_set_values(children(directive)))
    return values
