"""generation/route_tests.py: the request line of a `tests:` entry."""

from __future__ import annotations

import pytest

from nginxgen.generation.route_tests import parse_request


def test_a_request_line_is_taken_apart() -> None:
    line = parse_request("POST https://Shop.test/api/v1?x=1&y=%20")
    assert (line.method, line.scheme, line.host, line.port, line.target) == (
        "POST",
        "https",
        "shop.test",
        443,
        "/api/v1?x=1&y=%20",
    )
    assert str(parse_request("GET http://shop.test")) == "GET http://shop.test/"


@pytest.mark.parametrize(
    "request_line",
    [
        "GET https://shop.test/ x",
        "GET https://shop.test/\n",
        "get https://shop.test/",
        "GET ftp://shop.test/",
        "GET https://shop.test:8443/",
        "GET https://*.shop.test/",
        "GET https://shop.test/a;b{c}\x00",
        "GET  https://shop.test/",
    ],
)
def test_a_bad_request_line_is_refused(request_line: str) -> None:
    with pytest.raises(ValueError):
        parse_request(request_line)
