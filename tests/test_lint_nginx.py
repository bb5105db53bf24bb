"""The startup failures lint reports are real: nginx -t rejects each, and accepts the fix.

Also the raw-directive word limit, measured against nginx's own "too long parameter".
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from nginx_fixtures import image_id, nginx_test_images, require_image

from nginxgen.lint.engine import LintOptions, lint_text
from nginxgen.nginx.directives import MAX_WORD_BYTES, check_raw_directive
from nginxgen.nginx.docker_engine import DockerEngine
from nginxgen.nginx.runner import ConfigFile, nginx_test

pytestmark = pytest.mark.nginx


@pytest.fixture(scope="module", params=nginx_test_images(), ids=image_id)
def engine(request: pytest.FixtureRequest, docker_client: Any) -> Iterator[DockerEngine]:
    with DockerEngine(require_image(docker_client, request.param), pull=False) as engine:
        yield engine


def lint_codes(text: str) -> list[str]:
    result = lint_text(text, "fragment.conf", LintOptions(), dump=False)
    return [finding.code for finding in result.findings]


VARIABLE_IN_UPSTREAM = """\
upstream lint_app {
    server ${HOST}:80;
}
server {
    listen 8081;
    location / { proxy_pass http://lint_app; }
}
"""

UPSTREAM_WITH_PORT = """\
upstream lint_app {
    server 127.0.0.1:3000;
}
server {
    listen 8081;
    location / { proxy_pass http://lint_app:3000; }
}
"""


def test_a_variable_in_an_upstream_server_is_a_literal_name(engine: DockerEngine) -> None:
    result = nginx_test([ConfigFile("lint.conf", VARIABLE_IN_UPSTREAM)], engine)
    assert not result.ok
    assert 'host not found in upstream "${HOST}:80"' in result.output
    assert lint_codes(VARIABLE_IN_UPSTREAM) == ["NGX001"]


def test_a_pass_naming_an_upstream_with_a_port_fails(engine: DockerEngine) -> None:
    result = nginx_test([ConfigFile("lint.conf", UPSTREAM_WITH_PORT)], engine)
    assert not result.ok
    assert 'upstream "lint_app" may not have port 3000' in result.output
    assert lint_codes(UPSTREAM_WITH_PORT) == ["NGX012"]

    fixed = UPSTREAM_WITH_PORT.replace("http://lint_app:3000", "http://lint_app")
    assert nginx_test([ConfigFile("lint.conf", fixed)], engine).ok
    assert lint_codes(fixed) == []


@pytest.mark.parametrize("quote", ["", '"'])
def test_the_raw_word_limit_is_nginx_s(engine: DockerEngine, quote: str) -> None:
    def fragment(length: int) -> tuple[str, str]:
        raw = f"add_header X-Long {quote}{'a' * (length - len(quote))}{quote}"
        return raw, f"server {{\n    listen 8081;\n    {raw};\n}}\n"

    longest, accepted = fragment(MAX_WORD_BYTES)
    assert check_raw_directive(longest, "server") == longest
    assert nginx_test([ConfigFile("lint.conf", accepted)], engine).ok

    too_long, refused = fragment(MAX_WORD_BYTES + 1)
    with pytest.raises(ValueError, match="longer than nginx reads"):
        check_raw_directive(too_long, "server")
    result = nginx_test([ConfigFile("lint.conf", refused)], engine)
    assert not result.ok
    assert "too long parameter" in result.output
