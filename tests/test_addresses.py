"""lint/addresses.py: what an address in proxy_pass or an upstream is."""

from __future__ import annotations

import pytest

from nginxgen.lint.addresses import classify


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
