"""The models alone: what each field accepts and refuses, with no YAML and no files."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from nginxgen.generation import fields, models, route_tests, sections
from nginxgen.generation.fields import StrictModel
from nginxgen.generation.models import Environment, Settings
from nginxgen.generation.sections import Route, Service, Tls


def environment(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "domains": ["example.test"],
        "services": {"app": {"host": "app", "port": 3000}},
        "routes": [{"path": "/", "service": "app"}],
    }
    data.update(overrides)
    return data


def errors_of(model: type[BaseModel], data: Any) -> list[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return [(tuple(error["loc"]), error["type"]) for error in caught.value.errors()]


def every_model() -> list[type[BaseModel]]:
    return [
        value
        for module in (fields, sections, route_tests, models)
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, BaseModel)
        and value is not StrictModel
        and value.__module__ == module.__name__
    ]


@pytest.mark.parametrize("model", every_model(), ids=lambda model: model.__name__)
def test_every_model_forbids_unknown_keys_and_is_frozen(model: type[BaseModel]) -> None:
    # model_config is not inherited by plain BaseModel subclasses: each must derive StrictModel.
    assert issubclass(model, StrictModel)
    assert model.model_config.get("extra") == "forbid"
    assert model.model_config.get("frozen") is True


def test_a_minimal_environment_gets_the_documented_defaults() -> None:
    parsed = Environment.model_validate(environment())
    assert parsed.primary_domain == "example.test"
    assert parsed.tls.enabled is True
    assert parsed.tls.certificate is None
    assert parsed.tls.certificate_key is None
    assert parsed.routes[0].websocket is False


def test_parsed_values_cannot_be_changed() -> None:
    parsed = Environment.model_validate(environment())
    with pytest.raises(ValidationError):
        parsed.domains = ["other.test"]  # type: ignore[misc]


@pytest.mark.parametrize(
    "domain",
    [
        "example.test",
        "www.example.test",
        "*.example.test",
        "a-b.example.test",
        "xn--bcher-kva.example",
        "localhost",
        "a" * 63 + ".test",
        "123.example.test",
    ],
)
def test_valid_domains(domain: str) -> None:
    assert Environment.model_validate(environment(domains=[domain])).domains == [domain]


def test_domains_are_lowercased() -> None:
    parsed = Environment.model_validate(environment(domains=["WWW.Example.Test"]))
    assert parsed.domains == ["www.example.test"]


@pytest.mark.parametrize(
    "domain",
    [
        "",
        "under_score.test",
        "exa mple.test",
        "-leading.test",
        "trailing-.test",
        "example.test.",
        ".example.test",
        "a..test",
        "www.*.example.test",
        "*example.test",
        "example.test;",
        "example.test{",
        "$host",
        "a" * 64 + ".test",
        ("a" * 60 + ".") * 5 + "test",
        "https://example.test",
        "example.test:443",
    ],
)
def test_invalid_domains(domain: str) -> None:
    assert errors_of(Environment, environment(domains=["ok.test", domain])) == [
        (("domains", 1), "value_error")
    ]


def test_an_environment_needs_a_service_and_a_route() -> None:
    # Domains are required by a rule (generation/rules.py), since a catch-all may go without.
    errors = errors_of(Environment, {"domains": [], "services": {}, "routes": []})
    assert sorted(errors) == [
        (("routes",), "too_short"),
        (("services",), "too_short"),
    ]


@pytest.mark.parametrize("host", ["app", "app-staging", "app_staging", "api.internal", "a1"])
def test_valid_hosts(host: str) -> None:
    assert Service.model_validate({"host": host, "port": 80}).host == host


def test_hosts_are_lowercased() -> None:
    assert Service.model_validate({"host": "App", "port": 80}).host == "app"


@pytest.mark.parametrize(
    "host",
    ["", "app:3000", "http://app", "app;", "a b", "-app", "app-", "_app", "app.", "$app", "app/x"],
)
def test_invalid_hosts(host: str) -> None:
    assert errors_of(Service, {"host": host, "port": 80}) == [(("host",), "value_error")]


@pytest.mark.parametrize("port", [1, 80, 65535])
def test_valid_ports(port: int) -> None:
    assert Service.model_validate({"host": "app", "port": port}).port == port


@pytest.mark.parametrize(
    ("port", "error"),
    [
        (0, "greater_than_equal"),
        (-1, "greater_than_equal"),
        (65536, "less_than_equal"),
        ("3000", "int_type"),
        (3000.0, "int_type"),
        (True, "int_type"),
        (None, "int_type"),
    ],
)
def test_invalid_ports(port: Any, error: str) -> None:
    assert errors_of(Service, {"host": "app", "port": port}) == [(("port",), error)]


@pytest.mark.parametrize("path", ["/", "/api/", "/api", "/a-b_c.d~e/", "/%20/", "/ws/"])
def test_valid_paths(path: str) -> None:
    assert Route.model_validate({"path": path, "service": "app"}).path == path


@pytest.mark.parametrize(
    "path",
    [
        "",
        "api/",
        "/a;b",
        "/a{b",
        "/a}b",
        "/a$b",
        "/a b",
        "/a\tb",
        "/a\nb",
        "/a'b",
        '/a"b',
        "/a#b",
        "/a\\b",
        "/a\x00b",
    ],
)
def test_paths_without_a_slash_or_with_nginx_syntax_are_refused(path: str) -> None:
    assert errors_of(Route, {"path": path, "service": "app"}) == [(("path",), "value_error")]


@pytest.mark.parametrize("name", ["app", "web-app", "web_app", "App2", "2app"])
def test_valid_service_names(name: str) -> None:
    parsed = Environment.model_validate(
        environment(
            services={name: {"host": "app", "port": 80}},
            routes=[{"path": "/", "service": name}],
        )
    )
    assert list(parsed.services) == [name]


@pytest.mark.parametrize("name", ["-app", "_app", "web app", "web.app", "a$", "x" * 65])
def test_invalid_service_names(name: str) -> None:
    errors = errors_of(Environment, environment(services={name: {"host": "app", "port": 80}}))
    assert (("services", name, "[key]"), "string_pattern_mismatch") in errors or (
        ("services", name, "[key]"),
        "string_too_long",
    ) in errors


def test_a_route_must_name_its_service() -> None:
    assert errors_of(Route, {"path": "/x"}) != []


@pytest.mark.parametrize(
    ("tls", "enabled"),
    [(True, True), (None, True), ({}, True), (False, False), ({"enabled": False}, False)],
)
def test_tls_shorthands(tls: Any, enabled: bool) -> None:
    parsed = Environment.model_validate(environment(tls=tls))
    assert parsed.tls.enabled is enabled
    assert parsed.tls.certificate is None


def test_tls_takes_both_certificate_files() -> None:
    tls = Tls.model_validate(
        {"certificate": "/etc/ssl/a/fullchain.pem", "certificate_key": "/etc/ssl/a/privkey.pem"}
    )
    assert tls.certificate == "/etc/ssl/a/fullchain.pem"
    assert tls.certificate_key == "/etc/ssl/a/privkey.pem"


@pytest.mark.parametrize("given", ["certificate", "certificate_key"])
def test_tls_refuses_one_certificate_file_without_the_other(given: str) -> None:
    # Located at `tls`, so the loader can name the line of the tls block.
    assert errors_of(Environment, environment(tls={given: "/etc/ssl/a.pem"})) == [
        (("tls",), "value_error")
    ]


@pytest.mark.parametrize("path", ["fullchain.pem", "./a.pem", "~/a.pem", "/etc/ssl/a b.pem", "/a;"])
def test_certificate_paths_must_be_absolute_and_free_of_nginx_syntax(path: str) -> None:
    errors = errors_of(Tls, {"certificate": path, "certificate_key": "/etc/ssl/key.pem"})
    assert errors == [(("certificate",), "value_error")]


@pytest.mark.parametrize(
    ("model", "data", "location"),
    [
        (Environment, environment(domain=["x.test"]), ("domain",)),
        (Service, {"host": "app", "port": 80, "ports": 81}, ("ports",)),
        (Route, {"path": "/", "service": "app", "websockets": True}, ("websockets",)),
        (Tls, {"cert": "/a.pem"}, ("cert",)),
        (Settings, {"output_file": "x.conf"}, ("output_file",)),
    ],
)
def test_unknown_keys_are_refused(
    model: type[BaseModel], data: dict[str, Any], location: tuple[str, ...]
) -> None:
    assert (location, "extra_forbidden") in errors_of(model, data)


def test_settings_have_defaults_for_every_key() -> None:
    settings = Settings()
    assert settings.output == "out/nginx-ssl.conf"
    assert settings.environments == "environments"
    assert settings.resolver_valid == "2s"
    assert settings.resolver_timeout == "2s"
    assert settings.timeouts.connect == "2s"


@pytest.mark.parametrize("valid", ["1s", "10s", "30s", "5m", "1h", "10"])
def test_valid_resolver_durations(valid: str) -> None:
    assert Settings(resolver_valid=valid).resolver_valid == valid


# nginx reads `valid=` in whole seconds: `500ms` would fail `nginx -t`.
@pytest.mark.parametrize("valid", ["0s", "10 s", "10seconds", "-1s", "", "10s;", "1.5s", "500ms"])
def test_invalid_resolver_durations(valid: str) -> None:
    assert errors_of(Settings, {"resolver_valid": valid}) == [
        (("resolver_valid",), "string_pattern_mismatch")
    ]


def test_the_json_schema_forbids_unknown_keys_and_lists_required_fields() -> None:
    schema = Environment.model_json_schema()
    assert schema["additionalProperties"] is False
    assert {"services", "routes"} <= set(schema["required"])  # domains: not for a catch-all
    assert "tls" not in schema["required"]


@pytest.mark.parametrize(
    "origin", ["https://.shop.example.test", "https://a..b", "https://-a.b", "https://a.b."]
)
def test_a_cors_origin_is_a_dns_name(origin: str) -> None:
    # Found by the property tests: an empty label passed and sorted the CORS map differently.
    with pytest.raises(ValidationError):
        Route.model_validate({"path": "/api/", "service": "api", "cors": {"origins": [origin]}})
