"""routetest/echo.py: the echo backend's config and its answer read back."""

from __future__ import annotations

from nginxgen.nginx.echo import echo_config, parse_echo


def test_the_echo_config_reports_the_asked_headers_on_every_port() -> None:
    config = echo_config([3000, 8080, 3000], ["X-Trace"])
    assert config.count("listen 3000 default_server;") == 1
    assert "listen 8080 default_server;" in config
    assert "header.x-trace=$http_x_trace\\n" in config
    assert "header.upgrade=$http_upgrade\\n" in config
    assert "client_max_body_size 0;" in config


def test_the_echo_answer_is_read_back() -> None:
    received = parse_echo(
        "address=172.20.0.3\nport=3000\nmethod=GET\nuri=/a?b=c=d\n"
        "header.host=shop.test\nheader.upgrade=\nheader.x-trace=a=b\n"
    )
    assert (received.address, received.port, received.method, received.uri) == (
        "172.20.0.3",
        3000,
        "GET",
        "/a?b=c=d",
    )
    assert received.headers == {"host": "shop.test", "x-trace": "a=b"}
