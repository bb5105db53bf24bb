"""lint/addresses.py: what an address in proxy_pass or an upstream is."""

from __future__ import annotations

import pytest

from nginxgen.lint.addresses import classify, explicit_port, substitute, variables_in


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("http://app:3000/path", "hostname"),
        ("app:3000", "hostname"),
        ("grpcs://api.internal", "hostname"),
        ("http://10.0.0.1:80", "ip"),
        ("[fd00::1]:8080", "ip"),
        ("http://[::1]", "ip"),
        ("unix:/run/php.sock", "unix"),
        ("http://unix:/run/app.sock:/api", "unix"),
        ("http://$host:3000", "unknown"),
        ("localhost:9000", "localhost"),
        ("http://Backend/", "upstream"),
    ],
)
def test_classify(address: str, kind: str) -> None:
    assert classify(address, {"backend": object()}).kind == kind  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("address", "port"),
    [
        ("http://app:3000/path", "3000"),
        ("app:8080", "8080"),
        ("http://app/path:99", None),
        ("grpc://api.internal", None),
        ("http://app:3000?x=:1", "3000"),
    ],
)
def test_explicit_port_is_the_one_after_the_host(address: str, port: str | None) -> None:
    assert explicit_port(address) == port


def test_substitute_follows_chains_of_sets_and_leaves_unknown_variables() -> None:
    values = {"host": "app", "target": "http://$host:${port}", "port": "3000"}
    assert substitute("$target/api", values) == "http://app:3000/api"
    assert substitute("http://$upstream_addr", values) == "http://$upstream_addr"


def test_variables_are_found_plain_and_braced_in_order() -> None:
    assert variables_in("http://${a}x$b_c/$1") == ["a", "b_c", "1"]
    assert variables_in("http://app:3000") == []
