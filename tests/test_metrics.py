"""`metrics:` in nginxgen.yaml and `tls.client_certificates`, without Docker: validation with
located errors, the plan and output, the compose services, the mtail program."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from nginxgen.cli import app
from nginxgen.generation.metrics import DOCKER_PRIVATE_RANGES
from nginxgen.generation.models import Settings

SITE = """\
domains: [site.example.test]
tls: false
services:
  app: {host: app, port: 3000}
routes:
  - {path: /, service: app}
"""
SECURE = """\
domains: [secure.example.test]
tls:
  client_certificates: {ca: /etc/nginx/clients/ca.pem}
services:
  api: {host: api, port: 8000}
routes:
  - path: /
    service: api
    request_headers: {X-Client-Verify: SUCCESS}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "site.yaml").write_text(SITE, encoding="utf-8")
    return tmp_path


def run(project: Path, settings: str, *arguments: str) -> Result:
    (project / "nginxgen.yaml").write_text(f'nginx_version: "1.26"\n{settings}', encoding="utf-8")
    return CliRunner().invoke(app, list(arguments))


def rendered(project: Path, settings: str) -> str:
    result = run(project, settings, "render")
    assert result.exit_code == 0, result.output
    return (project / "out" / "nginx-ssl.conf").read_text(encoding="utf-8")


def test_metrics_true_serves_stub_status_to_dockers_private_ranges(project: Path) -> None:
    text = rendered(project, "metrics: true\n")
    assert "listen 8080 default_server;" in text
    assert "location = /stub_status {\n        stub_status;" in text
    for network in DOCKER_PRIVATE_RANGES:
        assert f"allow {network};" in text
    assert "deny all;" in text
    # The environment writes the metrics log beside nginx.conf's log, which it now names.
    assert "access_log /var/log/nginx/access.log combined;" in text
    assert (
        "access_log /var/log/nginx/nginxgen-requests.log nginxgen_metrics_site "
        "buffer=32k flush=1s;" in text
    )
    assert '\'{"environment":"site","status":$status,' in text


@pytest.mark.parametrize("settings", ["", "metrics: false\n", "metrics: {enabled: false}\n"])
def test_without_metrics_nothing_changes(project: Path, settings: str) -> None:
    text = rendered(project, settings)
    assert "stub_status" not in text and "nginxgen_metrics" not in text
    assert "access_log" not in text


def test_a_metrics_server_on_a_published_port_is_a_located_error(project: Path) -> None:
    result = run(project, "metrics:\n  port: 443\n", "render")
    assert result.exit_code == 2
    assert "nginxgen.yaml:3:9: metrics.port: port 443 is where the environments are" in (
        result.output
    )
    assert not (project / "out").exists()


def test_a_bad_allow_entry_is_a_located_error(project: Path) -> None:
    result = run(project, "metrics:\n  allow: [10.0.0.0/8, everyone]\n", "render")
    assert result.exit_code == 2
    assert "nginxgen.yaml:3:23: metrics.allow[1]: 'everyone' is not" in result.output


def test_the_settings_schema_describes_metrics(project: Path) -> None:
    schema = json.loads(CliRunner().invoke(app, ["schema", "settings"]).stdout)
    metrics = schema["$defs"]["MetricsSettings"]["properties"]
    assert metrics["port"]["default"] == 8080
    assert metrics["allow"]["default"] == list(DOCKER_PRIVATE_RANGES)


def test_compose_adds_the_exporter_and_mtail_unpublished(project: Path) -> None:
    result = run(project, "metrics: {port: 9145}\n", "compose")
    assert result.exit_code == 0, result.output
    document = yaml.safe_load(result.stdout)
    services = document["services"]
    exporter, mtail = services["nginx-exporter"], services["nginx-mtail"]
    assert exporter["image"].startswith("nginx/nginx-prometheus-exporter:")
    assert exporter["command"] == ["--nginx.scrape-uri=http://nginx:9145/stub_status"]
    assert mtail["image"].startswith("ghcr.io/google/mtail:")
    assert "/var/log/nginx/nginxgen-requests.log" in mtail["command"]
    assert "nginxgen-logs:/var/log/nginx:ro" in mtail["volumes"]
    assert "nginxgen-logs:/var/log/nginx" in services["nginx"]["volumes"]
    assert document["volumes"] == {"nginxgen-logs": {}}
    for service in (exporter, mtail):
        assert "ports" not in service and service["networks"] == ["default"]
    assert all("9145" not in port for port in services["nginx"]["ports"])
    assert "--mtail-program" in result.stdout  # the header says where the program comes from


def test_compose_without_metrics_has_no_metrics_services(project: Path) -> None:
    document = yaml.safe_load(run(project, "", "compose").stdout)
    assert set(document["services"]) == {"nginx"} and "volumes" not in document


def test_the_mtail_program_knows_the_environments(project: Path) -> None:
    (project / "environments" / "api-v2.yaml").write_text(
        SITE.replace("site.example.test", "api.example.test"), encoding="utf-8"
    )
    result = run(project, "metrics: true\n", "compose", "--mtail-program")
    assert result.exit_code == 0, result.output
    assert '"(?P<environment>api-v2|site)"' in result.stdout
    assert "counter nginxgen_requests_total by environment, status_class" in result.stdout
    again = run(project, "metrics: true\n", "compose", "--mtail-program")
    assert again.stdout == result.stdout


def test_the_mtail_program_needs_metrics(project: Path) -> None:
    result = run(project, "", "compose", "--mtail-program")
    assert result.exit_code == 2
    assert "needs `metrics:`" in result.output


def test_client_certificates_verify_and_replace_the_clients_headers(project: Path) -> None:
    (project / "environments" / "secure.yaml").write_text(SECURE, encoding="utf-8")
    text = rendered(project, "")
    assert "ssl_client_certificate /etc/nginx/clients/ca.pem;\n    ssl_verify_client on;" in text
    assert "proxy_set_header X-Client-Verify $ssl_client_verify;" in text
    assert "proxy_set_header X-Client-DN $ssl_client_s_dn;" in text
    # request_headers cannot set what nginx decides.
    assert 'X-Client-Verify "SUCCESS"' not in text


def test_client_certificates_need_tls(project: Path) -> None:
    (project / "environments" / "secure.yaml").write_text(
        SECURE.replace("tls:\n", "tls:\n  enabled: false\n"), encoding="utf-8"
    )
    result = run(project, "", "render")
    assert result.exit_code == 2
    assert "environments/secure.yaml:2:1: tls: client_certificates need TLS" in result.output


def test_verify_is_required_or_optional(project: Path) -> None:
    (project / "environments" / "secure.yaml").write_text(
        SECURE.replace("ca: /etc/nginx/clients/ca.pem", "ca: /etc/ca.pem, verify: sometimes"),
        encoding="utf-8",
    )
    result = run(project, "", "render")
    assert result.exit_code == 2
    assert "tls.client_certificates.verify:" in result.output


class _Files:
    """A proxy as far as reading files goes: these paths exist, every other is missing."""

    name = "proxy"

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files

    def read_file(self, path: str) -> bytes:
        if path not in self.files:
            raise FileNotFoundError(path)
        return self.files[path]


def test_status_checks_the_client_ca_as_the_proxy_sees_it(project: Path) -> None:
    import datetime

    from nginxgen.commands.status import certificate_findings
    from nginxgen.commands.status_metrics import certificate_facts
    from nginxgen.generation.pipeline import generate
    from nginxgen.nginx.placeholder_certs import find_tls_files, placeholder_files

    (project / "environments" / "secure.yaml").write_text(SECURE, encoding="utf-8")
    generated = generate(project / "environments", Settings(nginx_version="1.26"))
    files = placeholder_files(find_tls_files([generated.text]))
    ca = files.pop("/etc/nginx/clients/ca.pem")
    now = datetime.datetime.now(datetime.UTC)
    missing = certificate_findings(_Files(files), generated.plan.environments, now, 21)  # type: ignore[arg-type]
    [finding] = [f for f in missing if "ca.pem" in f.message]
    assert finding.severity == "error" and "client CA file not found" in finding.message
    facts = list(certificate_facts(_Files({**files, "/etc/nginx/clients/ca.pem": ca}), generated))  # type: ignore[arg-type]
    [client_ca] = [fact for fact in facts if fact.kind == "client_ca"]
    assert client_ca.environment == "secure" and client_ca.expires is not None
