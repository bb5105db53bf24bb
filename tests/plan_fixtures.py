"""Environments built from YAML text and planned: shared by test_plan.py and test_rules.py."""

from __future__ import annotations

import textwrap

import pytest

from nginxgen.core.errors import ConfigError
from nginxgen.generation.loader import LoadedEnvironment, validate
from nginxgen.generation.models import Environment, Settings
from nginxgen.generation.plan import build_plan
from nginxgen.generation.plan_types import Plan


def loaded(name: str, text: str) -> LoadedEnvironment:
    model, source = validate(Environment, textwrap.dedent(text), f"environments/{name}.yaml")
    return LoadedEnvironment(name, model, source)


def simple(name: str, domain: str, extra: str = "") -> LoadedEnvironment:
    return loaded(
        name,
        f"""\
        domains: [{domain}]
        services:
          app: {{host: app-{name}, port: 3000}}
        routes:
          - {{path: /, service: app}}
        {extra}""",
    )


def plan_of(*environments: LoadedEnvironment, settings: Settings | None = None) -> Plan:
    return build_plan(list(environments), settings or Settings())


def located(*environments: LoadedEnvironment) -> list[tuple[str, int, int, str]]:
    with pytest.raises(ConfigError) as caught:
        plan_of(*environments)
    return [(p.file, p.line, p.column, p.field) for p in caught.value.problems]
