"""generation/rules.py: the rules that span fields and environments, each problem located."""

from __future__ import annotations

import pytest
from plan_fixtures import loaded, located, plan_of, simple

from nginxgen.core.errors import ConfigError
from nginxgen.generation.models import Settings
from nginxgen.generation.rules import check_environments


def test_a_valid_set_of_environments_has_no_problems() -> None:
    environments = [simple("production", "p.test"), simple("staging", "s.test")]
    assert check_environments(environments, Settings()) == []


def test_a_route_to_an_undefined_service_names_the_service_line() -> None:
    environment = loaded(
        "staging",
        """\
        domains: [s.test]
        services:
          app: {host: app, port: 3000}
        routes:
          - {path: /, service: app}
          - path: /api/
            service: api
        """,
    )
    with pytest.raises(ConfigError) as caught:
        plan_of(environment)
    assert str(caught.value) == (
        "environments/staging.yaml:7:14: routes[1].service: "
        "service 'api' is not defined (defined: app)"
    )


def test_a_duplicate_route_path_names_the_second_route() -> None:
    environment = loaded(
        "staging",
        """\
        domains: [s.test]
        services: {app: {host: app, port: 3000}}
        routes:
          - {path: /, service: app}
          - {path: /, service: app, websocket: true}
        """,
    )
    assert located(environment) == [("environments/staging.yaml", 5, 12, "routes[1].path")]


def test_a_domain_repeated_within_an_environment_names_the_repeat() -> None:
    environment = simple("staging", "s.test, www.s.test, S.TEST")
    assert located(environment) == [("environments/staging.yaml", 1, 31, "domains[2]")]


def test_a_domain_served_by_two_environments_names_both_files() -> None:
    production = simple("production", "p.test, www.p.test")
    staging = simple("staging", "s.test, www.p.test")
    with pytest.raises(ConfigError) as caught:
        plan_of(production, staging)
    assert str(caught.value) == (
        "environments/production.yaml:1:19: domains[1]: domain 'www.p.test' is also served by "
        "environment 'staging' (environments/staging.yaml:1)\n"
        "environments/staging.yaml:1:19: domains[1]: domain 'www.p.test' is also served by "
        "environment 'production' (environments/production.yaml:1)"
    )


def test_environment_names_must_be_usable_in_variable_names() -> None:
    assert located(simple("shop.staging", "s.test")) == [
        ("environments/shop.staging.yaml", 1, 1, "")
    ]


def test_environment_names_mapping_to_the_same_variables_are_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        plan_of(simple("shop-staging", "a.test"), simple("shop_staging", "b.test"))
    (problem,) = caught.value.problems
    assert problem.file == "environments/shop_staging.yaml"
    assert "environments/shop-staging.yaml" in problem.message


def test_environment_names_differing_only_in_case_are_refused() -> None:
    # nginx variable names ignore case, so $upstream_Prod_app is $upstream_prod_app.
    with pytest.raises(ConfigError):
        plan_of(simple("prod", "a.test"), simple("Prod", "b.test"))


def test_service_names_mapping_to_the_same_variable_are_refused() -> None:
    environment = loaded(
        "staging",
        """\
        domains: [s.test]
        services:
          web-app: {host: a, port: 3000}
          web_app: {host: b, port: 3000}
        routes:
          - {path: /, service: web-app}
          - {path: /b/, service: web_app}
        """,
    )
    with pytest.raises(ConfigError) as caught:
        plan_of(environment)
    (problem,) = caught.value.problems
    assert (problem.line, problem.field) == (4, "services.web_app")
    assert "web-app" in problem.message


def test_every_rule_broken_across_environments_is_reported_at_once() -> None:
    broken = loaded(
        "staging",
        """\
        domains: [s.test, p.test, s.test]
        services: {app: {host: app, port: 3000}}
        routes:
          - {path: /, service: app}
          - {path: /, service: api}
        """,
    )
    found = located(simple("production", "p.test"), broken)
    # The shared domain is reported in both files: production's domains[0], staging's domains[1].
    assert [field for *_, field in found] == [
        "domains[0]",
        "domains[1]",
        "domains[2]",
        "routes[1].path",
        "routes[1].service",
    ]
