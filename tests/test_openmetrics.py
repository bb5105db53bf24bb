"""`nginxgen status --format openmetrics`: the writer on plain facts, then for real: a deploy into
a running proxy, its status as OpenMetrics checked by Debian's `promtool check metrics`, and the
figures after a failed deploy."""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from nginx_fixtures import DockerStack, require_image
from test_status import CONF_D, IMAGE, SHOP, put_files
from test_status import project as project  # the fixture: a project with deployed/
from typer.testing import CliRunner

from nginxgen.cli import app
from nginxgen.core.openmetrics import (
    CertificateFact,
    DeployFact,
    ServiceFact,
    StatusFacts,
    openmetrics_text,
)
from nginxgen.generation.models import Settings
from nginxgen.generation.pipeline import generate
from nginxgen.nginx.placeholder_certs import find_tls_files, placeholder_files

METRICS_IMAGE = "nginxgen-test/metrics:bookworm"
MOMENT = datetime.datetime(2027, 1, 2, 3, 4, 5, 250000, tzinfo=datetime.UTC)


def samples(text: str) -> dict[str, float]:
    """`name{labels}` → value of every sample line."""
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def test_the_facts_as_openmetrics() -> None:
    facts = StatusFacts(
        'proxy "1"',
        certificates=(
            CertificateFact(
                "shop", "/etc/shop.pem", ("shop.example.com", "www.example.com"), MOMENT
            ),
            CertificateFact("shop", "/etc/ca.pem", (), None, "client_ca"),
        ),
        services=(ServiceFact("shop", "app", "app", 3000, 2, 0),),
        drift=True,
        last_deploy=DeployFact(MOMENT, False),
    )
    text = openmetrics_text([facts])
    assert text.endswith("\n# EOF\n")
    figures = samples(text)
    proxy = 'proxy="proxy \\"1\\""'
    shop = f'{proxy},environment="shop",kind="server",file="/etc/shop.pem"'
    names = 'names="shop.example.com,www.example.com"'
    assert figures[f"nginxgen_certificate_expiry_timestamp_seconds{{{shop},{names}}}"] == (
        MOMENT.timestamp()
    )
    ca = f'{proxy},environment="shop",kind="client_ca",file="/etc/ca.pem",names=""'
    assert figures[f"nginxgen_certificate_readable{{{ca}}}"] == 0
    # An unreadable file has no expiry rather than a made-up one.
    assert not any("expiry" in name and "ca.pem" in name for name in figures)
    service = f'{proxy},environment="shop",service="app",host="app",port="3000"'
    assert figures[f"nginxgen_service_resolves{{{service}}}"] == 1
    assert figures[f"nginxgen_service_up{{{service}}}"] == 0
    assert figures[f"nginxgen_config_drift{{{proxy}}}"] == 1
    assert figures[f"nginxgen_last_deploy_success{{{proxy}}}"] == 0
    assert "# UNIT nginxgen_last_deploy_timestamp_seconds seconds" in text
    # One TYPE line per family, before its samples, also with several proxies.
    twice = openmetrics_text([facts, StatusFacts("other")])
    assert twice.count("# TYPE nginxgen_config_drift gauge") == 1
    assert 'nginxgen_config_drift{proxy="other"}' not in twice  # nothing to compare there


def test_nothing_known_still_ends_in_eof() -> None:
    assert openmetrics_text([StatusFacts("proxy")]) == "# EOF\n"


def promtool(docker_client: Any, path: Path) -> str:
    output = docker_client.containers.run(
        require_image(docker_client, METRICS_IMAGE),
        ["-c", "promtool check metrics < /metrics/status.prom 2>&1; echo exit=$?"],
        entrypoint=["sh"],
        volumes={str(path.parent): {"bind": "/metrics", "mode": "ro"}},
        network_disabled=True,
        remove=True,
    )
    return bytes(output).decode()


@pytest.mark.nginx
def test_status_as_openmetrics_for_a_live_proxy(
    docker_stack: DockerStack, docker_client: Any, project: Path
) -> None:
    (project / "out").mkdir()
    docker_stack.start_service("app")
    docker_stack.start_nginx(IMAGE, {}, volumes={str(project / "deployed"): CONF_D})
    proxy = docker_stack.wrapped("nginx")
    text = generate(project / "environments", Settings(nginx_version="1.26")).text
    placeholders = placeholder_files(find_tls_files([text]))
    put_files(
        proxy,
        {
            **placeholders,
            "/etc/nginx/htpasswd/shop": b"alice:$apr1$9Xb3E4Yy$1dQaNXzc6Q3l/yN6b7GSx1\n",
        },
    )
    (project / "out" / "nginx-ssl.conf").write_text(text, encoding="utf-8")
    before = datetime.datetime.now(datetime.UTC)
    deployed = CliRunner().invoke(app, ["deploy", "--container", proxy.name])
    assert deployed.exit_code == 0, deployed.output

    result = CliRunner().invoke(
        app, ["status", "--container", proxy.name, "--format", "openmetrics"]
    )
    assert result.exit_code == 0, result.output
    (project / "status.prom").write_text(result.stdout, encoding="utf-8")
    checked = promtool(docker_client, project / "status.prom")
    assert checked.strip() == "exit=0", checked
    figures = samples(result.stdout)
    by_name = {re.sub(r"\{.*", "", name): value for name, value in figures.items()}
    certificate_path = "/etc/letsencrypt/live/shop.example.com/fullchain.pem"
    expiry = x509.load_pem_x509_certificate(placeholders[certificate_path]).not_valid_after_utc
    [expiry_sample] = [n for n in figures if n.startswith("nginxgen_certificate_expiry")]
    assert f'file="{certificate_path}"' in expiry_sample
    assert 'names="shop.example.com"' in expiry_sample and 'environment="shop"' in expiry_sample
    assert figures[expiry_sample] == expiry.timestamp()
    assert by_name["nginxgen_service_up"] == 1 and by_name["nginxgen_service_resolves"] == 1
    assert by_name["nginxgen_config_drift"] == 0
    assert by_name["nginxgen_last_deploy_success"] == 1
    assert before.timestamp() - 1 <= by_name["nginxgen_last_deploy_timestamp_seconds"]

    # A deploy nginx refuses (its certificate is not in the proxy): recorded as failed, and
    # the output now differs from what is live.
    broken = SHOP + "tls: {certificate: /etc/ssl/missing.pem, certificate_key: /etc/ssl/k.pem}\n"
    (project / "environments" / "shop.yaml").write_text(broken, encoding="utf-8")
    broken_text = generate(project / "environments", Settings(nginx_version="1.26")).text
    (project / "out" / "nginx-ssl.conf").write_text(broken_text, encoding="utf-8")
    refused = CliRunner().invoke(app, ["deploy", "--container", proxy.name])
    assert refused.exit_code == 1, refused.output
    docker_stack.remove("app")
    after = CliRunner().invoke(
        app, ["status", "--container", proxy.name, "--format", "openmetrics"]
    )
    assert after.exit_code == 0, after.output
    by_name = {re.sub(r"\{.*", "", name): value for name, value in samples(after.stdout).items()}
    assert by_name["nginxgen_last_deploy_success"] == 0
    assert by_name["nginxgen_config_drift"] == 1
    assert by_name["nginxgen_service_resolves"] == 0 and by_name["nginxgen_service_up"] == 0
