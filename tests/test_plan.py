"""Environments → plan: the decisions, and the rules that span fields and environments."""

from __future__ import annotations

import textwrap

import pytest

from nginxgen.core.errors import ConfigError
from nginxgen.core.facts import DOCKER_RESOLVER
from nginxgen.generation import naming, plan_locations
from nginxgen.generation.loader import LoadedEnvironment, validate
from nginxgen.generation.models import Environment, Settings
from nginxgen.generation.naming import upstream_variable, variable_part
from nginxgen.generation.plan import build_plan
from nginxgen.generation.plan_types import EnvironmentPlan, Plan
from nginxgen.generation.rules import check_environments


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


def only(plan: Plan) -> EnvironmentPlan:
    assert len(plan.environments) == 1
    return plan.environments[0]


def located(*environments: LoadedEnvironment) -> list[tuple[str, int, int, str]]:
    with pytest.raises(ConfigError) as caught:
        plan_of(*environments)
    return [(p.file, p.line, p.column, p.field) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("name", "part"),
    [
        ("app", "app"),
        ("web-app", "web_app"),
        ("Web_App", "web_app"),
        ("shop-staging", "shop_staging"),
    ],
)
def test_variable_part(name: str, part: str) -> None:
    assert variable_part(name) == part


def test_upstream_variables_combine_environment_and_service() -> None:
    assert upstream_variable("shop-staging", "web-app") == "upstream_shop_staging_web_app"


def test_environments_are_planned_in_name_order() -> None:
    plan = plan_of(simple("staging", "s.test"), simple("production", "p.test"))
    assert [environment.name for environment in plan.environments] == ["production", "staging"]
    assert plan.sources == ("production.yaml", "staging.yaml")


def test_the_resolver_is_dockers_with_the_configured_validity() -> None:
    plan = plan_of(simple("production", "p.test"), settings=Settings(resolver_valid="30s"))
    assert plan.resolver.address == DOCKER_RESOLVER == "127.0.0.11"
    assert plan.resolver.valid == "30s"


def test_defaults_fit_a_docker_network() -> None:
    environment = only(plan_of(simple("production", "p.test")))
    assert (environment.resolver.valid, environment.resolver.timeout) == ("2s", "2s")
    assert environment.timeouts == (("proxy_connect_timeout", "2s"),)
    assert environment.failover is not None
    assert environment.failover.conditions == ("error", "timeout", "http_502", "http_503")
    assert "non_idempotent" not in environment.failover.conditions


def test_timeouts_and_resolver_come_from_the_route_then_environment_then_settings() -> None:
    settings = Settings.model_validate(
        {
            "resolver_valid": "7s",
            "resolver_timeout": "3s",
            "timeouts": {"connect": "4s", "read": "40s"},
            "nginx_version": "1.28",
            "strategy": "upstream-resolve",
        }
    )
    environment = simple(
        "production",
        "p.test",
        "timeouts: {connect: 1s}\n        resolver_valid: 1s",
    )
    planned = only(plan_of(environment, settings=settings))
    # Per field: the environment's connect, the settings' read, nginx's send.
    assert planned.timeouts == (("proxy_connect_timeout", "1s"), ("proxy_read_timeout", "40s"))
    assert (planned.resolver.valid, planned.resolver.timeout) == ("1s", "3s")
    (upstream,) = planned.upstreams
    assert upstream.resolver == planned.resolver
    assert (upstream.max_fails, upstream.fail_timeout) == (1, "5s")


def test_an_environment_without_proxied_routes_has_no_proxy_settings() -> None:
    environment = loaded(
        "files",
        """\
        domains: [f.test]
        services:
          app: {host: app, port: 3000}
        routes:
          - {path: /, static: {root: /srv}}
        """,
    )
    planned = only(plan_of(environment))
    assert (planned.timeouts, planned.failover) == ((), None)


def test_tls_defaults_to_lets_encrypt_files_of_the_primary_domain() -> None:
    environment = only(plan_of(simple("production", "[www.p.test, p.test]".strip("[]"))))
    assert environment.tls is not None
    assert environment.tls.certificate == "/etc/letsencrypt/live/www.p.test/fullchain.pem"
    assert environment.tls.certificate_key == "/etc/letsencrypt/live/www.p.test/privkey.pem"


def test_a_wildcard_primary_domain_uses_the_parent_domains_files() -> None:
    environment = only(plan_of(simple("tenants", '"*.t.test"')))
    assert environment.tls is not None
    assert environment.tls.certificate == "/etc/letsencrypt/live/t.test/fullchain.pem"


def test_explicit_certificate_files_are_used() -> None:
    extra = "tls: {certificate: /etc/ssl/a.pem, certificate_key: /etc/ssl/a.key}\n"
    environment = only(plan_of(simple("staging", "s.test", extra)))
    assert environment.tls is not None
    assert (environment.tls.certificate, environment.tls.certificate_key) == (
        "/etc/ssl/a.pem",
        "/etc/ssl/a.key",
    )


@pytest.mark.parametrize("tls", ["tls: false", "tls: {enabled: false}"])
def test_http_only_environments_have_no_tls(tls: str) -> None:
    assert only(plan_of(simple("preview", "p.test", tls + "\n"))).tls is None


def test_locations_are_sorted_by_path_and_proxy_through_a_per_service_variable() -> None:
    environment = loaded(
        "shop-staging",
        """\
        domains: [shop.test]
        services:
          web-app: {host: web, port: 3000}
          api: {host: api.internal, port: 8080}
        routes:
          - {path: /api/, service: api}
          - {path: /, service: web-app}
        """,
    )
    locations = only(plan_of(environment)).locations
    assert [location.path for location in locations] == ["/", "/api/"]
    proxies = [location.proxy for location in locations]
    assert [proxy.variable for proxy in proxies if proxy] == [
        "upstream_shop_staging_web_app",
        "upstream_shop_staging_api",
    ]


def test_the_connection_upgrade_map_is_planned_only_when_a_route_uses_websockets() -> None:
    plain = plan_of(simple("production", "p.test"))
    assert plain.connection_upgrade_variable is None

    with_socket = plan_of(
        simple("production", "p.test"),
        loaded(
            "chat",
            """\
            domains: [chat.test]
            services: {app: {host: chat, port: 3000}}
            routes:
              - {path: /, service: app}
              - {path: /ws/, service: app, websocket: true}
            """,
        ),
    )
    assert with_socket.connection_upgrade_variable is not None
    socket = with_socket.environments[0].locations[1].proxy
    assert socket is not None
    assert socket.connection == f"${with_socket.connection_upgrade_variable}"
    assert ("Upgrade", "$http_upgrade", False) in socket.headers


def test_every_proxied_location_forwards_the_client_details() -> None:
    proxy = only(plan_of(simple("production", "p.test"))).locations[0].proxy
    assert proxy is not None
    names = {header.name for header in proxy.headers}
    assert {"Host", "X-Real-IP", "X-Forwarded-For", "X-Forwarded-Proto"} <= names


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


def test_regex_routes_keep_the_order_of_the_file() -> None:
    text = """
        domains: [p.test]
        services: {app: {host: app, port: 3000}, v2: {host: v2, port: 3000}}
        routes:
          - {path: /, service: app}
          - {path: '^/api/v2/', match: regex, service: v2}
          - {path: '^/api/', match: regex, service: app}
          - {path: '^/a', match: regex, service: app}
    """
    locations = only(plan_of(loaded("production", text))).locations
    assert [location.path for location in locations] == ["/", "^/api/v2/", "^/api/", "^/a"]


RESOLVE = Settings(nginx_version="1.30", strategy="upstream-resolve")


def test_every_upstream_ends_in_a_backup_server_that_resolves_each_host_per_request() -> None:
    environment = loaded(
        "shop",
        """\
        domains: [shop.test]
        services:
          app: {hosts: [app-a, app-b], port: 3000}
        routes:
          - {path: /, service: app}
        """,
    )
    (upstream,) = only(plan_of(environment, settings=RESOLVE)).upstreams
    assert [fallback.target for fallback in upstream.fallbacks] == ["app-a:3000", "app-b:3000"]
    listens = [fallback.listen for fallback in upstream.fallbacks]
    assert all(listen.startswith("127.") and listen.endswith(":80") for listen in listens)
    assert len(set(listens)) == 2


def test_two_fallbacks_that_would_share_an_address_get_distinct_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = naming.fallback_listen
    # Every first choice the same address: the plan must move all but one.
    monkeypatch.setattr(
        plan_locations,
        "fallback_listen",
        lambda upstream, index, attempt=0: (
            "127.1.1.1:80" if attempt == 0 else real(upstream, index, attempt)
        ),
    )
    plan = plan_of(simple("one", "one.test"), simple("two", "two.test"), settings=RESOLVE)
    listens = [
        fallback.listen
        for env in plan.environments
        for upstream in env.upstreams
        for fallback in upstream.fallbacks
    ]
    assert len(listens) == 2
    assert len(set(listens)) == 2
    assert "127.1.1.1:80" in listens
