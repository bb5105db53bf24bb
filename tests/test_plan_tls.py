"""generation/plan_tls.py: TLS profiles, the default HTTPS server's protocols and ciphers, the
warning when profiles are mixed on an nginx that picks the version before SNI."""

from __future__ import annotations

from plan_fixtures import plan_of, simple

from nginxgen.generation.models import Settings
from nginxgen.generation.plan_tls import (
    INTERMEDIATE_CIPHERS,
    https_ciphers,
    https_protocols,
    profile_warnings,
    tls_plan,
)

MODERN = "tls: {profile: modern}\n"


def test_the_profiles_choose_protocols_and_ciphers() -> None:
    intermediate = tls_plan(simple("shop", "shop.test").model)
    modern = tls_plan(simple("admin", "admin.test", MODERN).model)
    assert intermediate is not None and modern is not None
    assert intermediate.protocols == "TLSv1.2 TLSv1.3"
    assert modern.protocols == "TLSv1.3"
    assert tls_plan(simple("blog", "blog.test", "tls: false\n").model) is None


def test_the_default_server_speaks_every_profile_in_use() -> None:
    mixed = [simple("shop", "shop.test"), simple("admin", "admin.test", MODERN)]
    assert https_protocols(plan_of(*mixed).environments) == "TLSv1.2 TLSv1.3"
    only_modern = plan_of(simple("admin", "admin.test", MODERN))
    assert https_protocols(only_modern.environments) == "TLSv1.3"
    assert https_ciphers(mixed) == INTERMEDIATE_CIPHERS
    assert https_ciphers([simple("admin", "admin.test", MODERN)]) is None


def test_mixed_profiles_warn_the_modern_environments_before_nginx_1_29_2() -> None:
    mixed = [simple("shop", "shop.test"), simple("admin", "admin.test", MODERN)]
    (warning,) = profile_warnings(mixed, Settings(nginx_version="1.26"))
    assert (warning.file, warning.field) == ("environments/admin.yaml", "tls.profile")
    assert warning.message.startswith("warning: nginx 1.26 picks the TLS version")
    assert profile_warnings(mixed, Settings(nginx_version="1.29.2")) == []
    assert profile_warnings(mixed[1:], Settings(nginx_version="1.26")) == []
