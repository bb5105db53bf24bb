"""Environments → plan: the decisions, and the rules that span fields and environments."""

from __future__ import annotations

import pytest
from plan_fixtures import loaded, plan_of, simple

from nginxgen.core.facts import DOCKER_RESOLVER
from nginxgen.generation import naming, plan_locations
from nginxgen.generation.models import Settings
from nginxgen.generation.plan_types import EnvironmentPlan, Plan


def only(plan: Plan) -> EnvironmentPlan:
    assert len(plan.environments) == 1
    return plan.environments[0]


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


def _name(length: int) -> str:
    """A domain name of `length` characters, in labels of at most 40."""
    labels, rest = [], length - len(".test")
    while rest > 41:
        labels.append("a" * 40)
        rest -= 41
    name = ".".join([*labels, "a" * rest]) + ".test"
    assert len(name) == length
    return name


def test_server_names_fitting_nginxs_default_bucket_set_no_size() -> None:
    plan = plan_of(simple("production", _name(46)), simple("staging", "s.test"))
    assert plan.server_names_hash_bucket_size is None


@pytest.mark.parametrize(
    ("extra", "size"),
    [
        ("", 128),  # the domain itself: 60 bytes
        (f"redirect_domains: [{_name(111)}]", 256),
        (f"redirect_domains: ['*.{_name(109)}']", 256),  # a wildcard counts as written
    ],
)
def test_the_longest_server_name_sizes_the_bucket(extra: str, size: int) -> None:
    environment = simple("production", _name(60), extra)
    plan = plan_of(environment, simple("staging", "s.test"))
    assert plan.server_names_hash_bucket_size == size


def test_a_raw_server_names_bucket_size_is_the_settings_own() -> None:
    settings = Settings(raw=["server_names_hash_bucket_size 512"])
    plan = plan_of(simple("production", _name(60)), settings=settings)
    assert plan.server_names_hash_bucket_size is None
