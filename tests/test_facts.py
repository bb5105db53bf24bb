"""core/facts.py: the few facts that are computed, not only declared."""

from __future__ import annotations

from nginxgen.core.facts import conf_d_name, proxy_image


def test_the_proxy_image_is_the_configured_one_else_the_official_of_the_target() -> None:
    assert proxy_image(None, "1.26") == "nginx:1.26"
    assert proxy_image("", "1.27") == "nginx:1.27"
    assert proxy_image("registry.example/nginx:1.26-custom", "1.26") == (
        "registry.example/nginx:1.26-custom"
    )


def test_a_file_in_conf_d_always_ends_in_conf() -> None:
    assert conf_d_name("nginx-ssl.conf") == "nginx-ssl.conf"
    assert conf_d_name("nginx-ssl") == "nginx-ssl.conf"
    assert conf_d_name("site.conf.bak") == "site.conf.bak.conf"
