"""Unit tests of the `nginx -t` runner's pure parts: no Docker, no nginx."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from generated_sample import (
    GENERATED,
    PRODUCTION_CERT,
    PRODUCTION_KEY,
    STAGING_CERT,
    STAGING_KEY,
)

from nginxgen.nginx.runner import ConfigFile, EngineRun, nginx_test


class RecordingEngine:
    """An engine that answers with canned nginx output and keeps what it was given."""

    description = "recording engine"

    def __init__(self, exit_code: int, output: str) -> None:
        self.exit_code = exit_code
        self.output = output
        self.files: Mapping[str, bytes] = {}

    def run_test(self, configs: Sequence[ConfigFile], files: Mapping[str, bytes]) -> EngineRun:
        self.files = files
        paths = {f"/etc/nginx/conf.d/{config.name}": config.name for config in configs}
        return EngineRun(self.exit_code, self.output, paths)


def test_nginx_test_gives_the_engine_placeholders_and_locates_errors() -> None:
    engine = RecordingEngine(
        1,
        "nginx version: nginx/1.26.3\n"
        "nginx: [emerg] invalid port in /etc/nginx/conf.d/nginx-ssl.conf:6\n"
        "nginx: configuration file /etc/nginx/nginx.conf test failed\n",
    )
    result = nginx_test([ConfigFile("nginx-ssl.conf", GENERATED)], engine)
    assert set(engine.files) == {PRODUCTION_CERT, PRODUCTION_KEY, STAGING_CERT, STAGING_KEY}
    assert not result.ok
    assert result.nginx_version == "nginx/1.26.3"
    assert [str(error) for error in result.errors] == [
        "nginx-ssl.conf:6: [emerg] invalid port (environment production, from production.yaml)"
    ]


def test_nginx_test_passes_on_exit_zero() -> None:
    engine = RecordingEngine(0, "nginx version: nginx/1.30.6\n")
    result = nginx_test([ConfigFile("empty.conf", "")], engine)
    assert result.ok
    assert result.nginx_version == "nginx/1.30.6"
    assert result.messages == ()
    assert engine.files == {}
