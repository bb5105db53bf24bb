"""Mutual TLS for real: a CA and client certificates made by openssl, `nginxgen test` presenting
them to a real nginx: none → 400, one of another CA → 400, the right one → the service receives
SUCCESS and the certificate's subject; a client's own X-Client-* headers never get through.
Also `nginxgen certs` on the CA file."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nginxgen.cli import app

IMAGE = "nginxgen-test/nginx:trixie"


def openssl(*arguments: str | Path) -> None:
    subprocess.run(["openssl", *map(str, arguments)], check=True, capture_output=True)


def make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    ca, key = directory / f"{name}.pem", directory / f"{name}.key"
    openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", key, "-out", ca, "-days", "30", "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=keyCertSign",
    )  # fmt: skip
    return ca, key


def make_client(directory: Path, ca: tuple[Path, Path], name: str, subject: str) -> None:
    request, key, cert = (directory / f"{name}.{ext}" for ext in ("csr", "key", "pem"))
    openssl(
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", key, "-out", request, "-subj", subject,
    )  # fmt: skip
    openssl(
        "x509", "-req", "-in", request, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial",
        "-out", cert, "-days", "7",
    )  # fmt: skip


def environment(ca: Path, verify: str, domain: str, tests: str) -> str:
    return f"""\
domains: [{domain}]
tls:
  client_certificates: {{ca: {ca}, verify: {verify}}}
services:
  api: {{host: api, port: 8000}}
routes:
  - {{path: /, service: api}}
tests:
{tests}"""


REQUIRED_TESTS = """\
  - request: GET https://internal.example.test/
    status: 400
  - request: GET https://internal.example.test/
    client_certificate: {cert: certs/stranger.pem, key: certs/stranger.key}
    status: 400
  - request: GET https://internal.example.test/who
    client_certificate: {cert: certs/alice.pem, key: certs/alice.key}
    headers: {X-Client-Verify: FORGED, X-Client-DN: CN=root}
    service: api
    received_headers: {X-Client-Verify: SUCCESS, X-Client-DN: "CN=alice,O=Example"}
"""
OPTIONAL_TESTS = """\
  - request: GET https://partners.example.test/
    headers: {X-Client-Verify: SUCCESS, X-Client-DN: "CN=alice,O=Example"}
    service: api
    received_headers: {X-Client-Verify: NONE}
  - request: GET https://partners.example.test/
    client_certificate: {cert: certs/alice.pem, key: certs/alice.key}
    received_headers: {X-Client-Verify: SUCCESS, X-Client-DN: "CN=alice,O=Example"}
  - request: GET https://partners.example.test/
    client_certificate: {cert: certs/stranger.pem, key: certs/stranger.key}
    status: 400
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    certs = tmp_path / "certs"
    certs.mkdir()
    company = make_ca(certs, "company")
    make_client(certs, company, "alice", "/O=Example/CN=alice")
    make_client(certs, make_ca(certs, "other"), "stranger", "/O=Example/CN=alice")
    (tmp_path / "environments").mkdir()
    files = {
        "internal.yaml": environment(
            company[0], "required", "internal.example.test", REQUIRED_TESTS
        ),
        "partners.yaml": environment(
            company[0], "optional", "partners.example.test", OPTIONAL_TESTS
        ),
    }
    for name, text in files.items():
        (tmp_path / "environments" / name).write_text(text, encoding="utf-8")
    (tmp_path / "nginxgen.yaml").write_text('nginx_version: "1.26"\n', encoding="utf-8")
    return tmp_path


@pytest.mark.nginx
def test_real_handshakes_with_client_certificates(project: Path) -> None:
    result = CliRunner().invoke(app, ["test", "--image", IMAGE, "--format", "json"])
    document = json.loads(result.stdout)
    outcomes = [case for phase in document["phases"] for case in phase["results"]]
    failed = [case for case in outcomes if not case["passed"]]
    assert result.exit_code == 0, json.dumps(failed, indent=1)
    labels = [case["test"] for case in outcomes]
    # The implicit route case of `verify: required` presents no certificate: 400.
    assert "routes[0] / answers 400 without a client certificate" in labels
    assert len([label for label in labels if label.startswith("tests[")]) == 6


@pytest.mark.nginx
def test_a_wrong_expectation_fails(project: Path) -> None:
    """The test can fail: the stranger's certificate does not reach the service."""
    path = project / "environments" / "internal.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace(
            "client_certificate: {cert: certs/stranger.pem, key: certs/stranger.key}\n"
            "    status: 400",
            "client_certificate: {cert: certs/stranger.pem, key: certs/stranger.key}\n"
            "    service: api",
        ),
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["test", "--image", IMAGE])
    assert result.exit_code == 1, result.output
    assert "400" in result.output


def test_certs_checks_the_client_ca(project: Path) -> None:
    result = CliRunner().invoke(app, ["certs", "--format", "json"])
    document = json.loads(result.stdout)
    ca_findings = [f for f in document["findings"] if f["file"].endswith("company.pem")]
    assert {f["check"] for f in ca_findings} == {"expiry"}, ca_findings
    (project / "certs" / "company.pem").write_text("not a certificate\n", encoding="utf-8")
    broken = json.loads(CliRunner().invoke(app, ["certs", "--format", "json"]).stdout)
    assert any(
        f["file"].endswith("company.pem") and f["check"] == "unparsable" for f in broken["findings"]
    )
