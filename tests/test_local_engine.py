"""nginx/local_engine.py: `nginx -t` with the host's nginx binary in a temporary prefix. The
runs with the real binary are marked `nginx` (scripts/test-infra installs nginx-light)."""

from __future__ import annotations

import shutil

import pytest

from nginxgen.core.errors import EnvironmentUnavailable
from nginxgen.nginx.local_engine import LocalEngine
from nginxgen.nginx.placeholder_certs import find_tls_files, placeholder_files
from nginxgen.nginx.runner import ConfigFile

SERVER = """\
server {
    listen 8443 ssl;
    server_name shop.test;
    ssl_certificate /etc/letsencrypt/live/shop.test/fullchain.pem;
    ssl_certificate_key /etc/letsencrypt/live/shop.test/privkey.pem;
    return 204;
}
"""


def host_nginx() -> str:
    binary = shutil.which("nginx")
    if binary is None:
        pytest.fail("no nginx on this machine; run scripts/test-infra", pytrace=False)
    return binary


def test_a_missing_binary_says_how_to_get_one() -> None:
    engine = LocalEngine("nginxgen-no-such-nginx")
    assert engine.description == "local nginx binary nginxgen-no-such-nginx"
    with pytest.raises(EnvironmentUnavailable) as raised:
        engine.run_test([ConfigFile("a.conf", "")], {})
    assert "No nginx binary 'nginxgen-no-such-nginx' found" in str(raised.value)


@pytest.mark.nginx
def test_certificates_are_pointed_at_placeholders_inside_the_prefix() -> None:
    files = placeholder_files(find_tls_files([SERVER]))
    run = LocalEngine(host_nginx()).run_test([ConfigFile("nginx-ssl", SERVER)], files)
    assert run.exit_code == 0, run.output
    assert "test is successful" in run.output
    assert run.notes == (
        "2 TLS file path(s) were pointed at placeholders in a temporary prefix "
        "(the local engine cannot write to the absolute paths)",
    )
    ((path, name),) = run.config_paths.items()
    assert path.endswith("/conf.d/nginx-ssl.conf") and name == "nginx-ssl"


@pytest.mark.nginx
def test_a_broken_config_fails_and_names_its_file() -> None:
    run = LocalEngine(host_nginx()).run_test([ConfigFile("bad.conf", "server { bogus; }\n")], {})
    assert run.exit_code != 0
    ((path, _),) = run.config_paths.items()
    assert f'unknown directive "bogus" in {path}:1' in run.output
    assert run.notes == ()
