"""nginx/messages.py: nginx's messages parsed and located in the tested files and environments."""

from __future__ import annotations

from generated_sample import (
    GENERATED,
)

from nginxgen.core.markers import EnvironmentMarker
from nginxgen.nginx.messages import NginxMessage, parse_messages


def test_messages_in_both_nginx_formats_are_located() -> None:
    output = (
        "nginx version: nginx/1.22.1\n"
        '2026/11/28 22:48:35 [emerg] 6#6: unknown directive "bogus" in '
        "/etc/nginx/conf.d/nginx-ssl.conf:15\n"
        'nginx: [warn] the "listen ... http2" directive is deprecated in '
        "/etc/nginx/conf.d/nginx-ssl.conf:7\n"
        "nginx: configuration file /etc/nginx/nginx.conf test failed\n"
    )
    paths = {"/etc/nginx/conf.d/nginx-ssl.conf": "nginx-ssl.conf"}
    messages = parse_messages(output, paths, {"nginx-ssl.conf": GENERATED})
    assert messages == [
        NginxMessage(
            "emerg",
            'unknown directive "bogus"',
            "nginx-ssl.conf",
            15,
            EnvironmentMarker("staging", "staging.yaml"),
        ),
        NginxMessage(
            "warn",
            'the "listen ... http2" directive is deprecated',
            "nginx-ssl.conf",
            7,
            EnvironmentMarker("production", "production.yaml"),
        ),
    ]
    assert [message.is_error for message in messages] == [True, False]
    assert str(messages[0]) == (
        'nginx-ssl.conf:15: [emerg] unknown directive "bogus" '
        "(environment staging, from staging.yaml)"
    )


def test_messages_outside_the_tested_configs_keep_their_location_in_the_text() -> None:
    output = (
        'nginx: [emerg] "gzip" directive is duplicate in /etc/nginx/nginx.conf:47\n'
        'nginx: [emerg] cannot load certificate "/x.pem": BIO_new_file() failed\n'
    )
    assert parse_messages(output, {}, {}) == [
        NginxMessage("emerg", '"gzip" directive is duplicate in /etc/nginx/nginx.conf:47'),
        NginxMessage("emerg", 'cannot load certificate "/x.pem": BIO_new_file() failed'),
    ]
