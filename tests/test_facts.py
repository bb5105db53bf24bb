"""core/facts.py: the few facts that are computed, not only declared."""

from __future__ import annotations

from nginxgen.core.facts import conf_d_name, hash_bucket_size, proxy_image


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


def test_a_hash_bucket_grows_to_the_next_power_of_two_only_past_the_default() -> None:
    # 8 + L + 2 rounded up to 8, plus an 8-byte end mark: 46 → 64, 47 → 72, 110 → 128, 111 → 136.
    assert hash_bucket_size(0) is None
    assert hash_bucket_size(46) is None
    assert hash_bucket_size(47) == 128
    assert hash_bucket_size(110) == 128
    assert hash_bucket_size(111) == 256
    assert hash_bucket_size(253) == 512
