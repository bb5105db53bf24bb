"""generation/sections.py: each section's own cross-field rules, validated alone (the sections
inside an environment, field by field: test_models.py)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from nginxgen.core.facts import ACME_WEBROOT
from nginxgen.generation.sections import Cors, ForwardAuth, Hsts, Route, Service, Tls


def refused(model: type[BaseModel], data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    (error,) = caught.value.errors()
    return str(error["msg"]).removeprefix("Value error, ")


def test_a_service_has_exactly_one_kind_of_host() -> None:
    assert Service.model_validate({"host": "app", "port": 80}).addresses == ("app",)
    replicas = Service.model_validate({"hosts": ["a", "b"], "port": 80})
    assert replicas.addresses == ("a", "b")
    assert Service.model_validate({"address": "10.0.0.5", "port": 80}).addresses == ("10.0.0.5",)
    assert Service.model_validate({"address": "fd00::5", "port": 80}).addresses == ("[fd00::5]",)
    assert refused(Service, {"port": 80}) == "give one of host, hosts or address"
    assert refused(Service, {"host": "a", "address": "10.0.0.5", "port": 80}) == (
        "give one of host, hosts or address"
    )


def test_a_wildcard_origin_stands_alone_and_without_credentials() -> None:
    assert Cors.model_validate({"origins": ["*"]}).origins == ["*"]
    assert refused(Cors, {"origins": ["*", "https://a.test"]}) == (
        "'*' allows every origin: give it alone"
    )
    assert refused(Cors, {"origins": ["*"], "credentials": True}) == (
        "browsers refuse '*' with credentials: list the origins instead"
    )


def test_forward_auth_needs_a_url_unless_switched_off() -> None:
    assert ForwardAuth.model_validate({"enabled": False}).url is None
    assert refused(ForwardAuth, {}) == "give the url of the auth service (or auth: false)"


def test_a_route_has_one_target_and_strip_prefix_only_where_it_means_something() -> None:
    assert Route.model_validate({"path": "/", "service": "app"}).service == "app"
    assert Route.model_validate({"path": "^/v[0-9]+/", "match": "regex", "service": "a"})
    assert refused(Route, {"path": "/"}) == "give either service or static"
    assert refused(Route, {"path": "/", "service": "a", "static": {"root": "/srv"}}) == (
        "give either service or static"
    )
    assert refused(Route, {"path": "/", "static": {"root": "/srv"}, "websocket": True}) == (
        "websocket and strip_prefix apply to service routes only"
    )
    assert refused(
        Route, {"path": "/a", "match": "exact", "service": "a", "strip_prefix": True}
    ) == ("strip_prefix applies to prefix routes only")


def test_a_regex_path_is_checked_as_a_regex_and_a_prefix_as_a_path() -> None:
    assert "is not a valid regular expression" in refused(
        Route, {"path": "^/(x", "match": "regex", "service": "a"}
    )
    assert refused(Route, {"path": "^/x", "service": "a"}) == "'^/x' must start with '/'"


def test_hsts_preload_needs_subdomains_and_a_year() -> None:
    assert Hsts.model_validate({"preload": True, "include_subdomains": True}).preload
    message = "preload needs include_subdomains and max_age of at least 31536000"
    assert refused(Hsts, {"preload": True}) == message
    assert refused(Hsts, {"preload": True, "include_subdomains": True, "max_age": 60}) == message


def test_tls_takes_a_certificate_pair_and_client_certificates_only_when_on() -> None:
    assert Tls.model_validate({}).acme_webroot == ACME_WEBROOT
    assert Tls.model_validate({"acme_webroot": False}).acme_webroot is None
    assert Tls.model_validate({"hsts": False}).hsts.enabled is False
    assert refused(Tls, {"certificate": "/c.pem"}) == (
        "give both certificate and certificate_key, or neither"
    )
    assert refused(Tls, {"enabled": False, "client_certificates": {"ca": "/ca.pem"}}) == (
        "client_certificates need TLS: remove them or enable tls"
    )
