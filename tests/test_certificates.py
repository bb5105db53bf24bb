"""`nginxgen certs` on certificates generated here: a CA, an intermediate and leaves gone wrong."""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner, Result

from nginxgen.cli import app
from nginxgen.commands.certificates import certificate_sites
from nginxgen.generation.loader import load_environments
from nginxgen.generation.models import Settings
from nginxgen.generation.plan import build_plan
from nginxgen.nginx.certificates import (
    CertFinding,
    CertificateSite,
    inspect_environment_certificates,
    name_covers,
    uncovered_domains,
)
from nginxgen.nginx.placeholder_certs import self_signed_certificate

NOW = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
DAY = datetime.timedelta(days=1)
Key = ec.EllipticCurvePrivateKey


def new_key() -> Key:
    return ec.generate_private_key(ec.SECP256R1())


def name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@dataclass(frozen=True)
class Issued:
    certificate: x509.Certificate
    key: Key


def issue(
    subject: str,
    issuer: Issued | None = None,
    *,
    sans: Sequence[str] = (),
    not_before: datetime.datetime = NOW - DAY,
    not_after: datetime.datetime = NOW + 90 * DAY,
    ca: bool = False,
    key: Key | None = None,
) -> Issued:
    """A certificate for `subject` signed by `issuer` (self-signed without one)."""
    key = key or new_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(name(subject))
        .issuer_name(issuer.certificate.subject if issuer else name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(san) for san in sans]), critical=False
        )
    signer = issuer.key if issuer else key
    return Issued(builder.sign(signer, hashes.SHA256()), key)


@pytest.fixture(scope="module")
def root() -> Issued:
    return issue("Test Root CA", ca=True, not_after=NOW + 3650 * DAY)


@pytest.fixture(scope="module")
def intermediate(root: Issued) -> Issued:
    return issue("Test Intermediate CA", root, ca=True, not_after=NOW + 1000 * DAY)


def pem(*certificates: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)


def key_pem(key: Key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass(frozen=True)
class Project:
    """A directory with `environments/` and a `tls/` directory the environments point into."""

    root: Path

    @property
    def environments(self) -> Path:
        return self.root / "environments"

    def certificate(self, file: str, *certificates: x509.Certificate) -> Path:
        return self._write(file, pem(*certificates))

    def key(self, file: str, key: Key) -> Path:
        return self._write(file, key_pem(key))

    def _write(self, file: str, data: bytes) -> Path:
        path = self.root / "tls" / file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def environment(
        self,
        environment: str,
        domains: Sequence[str],
        certificate: Path | None,
        key: Path | None,
        redirect_domains: Sequence[str] = (),
    ) -> None:
        # Quoted: a bare `*.example.test` is a YAML alias.
        lines = [f"domains: {json.dumps(list(domains))}"]
        if redirect_domains:
            lines.append(f"redirect_domains: {json.dumps(list(redirect_domains))}")
        if certificate and key:
            lines += ["tls:", f"  certificate: {certificate}", f"  certificate_key: {key}"]
        lines += [
            "services:",
            "  app: {host: app, port: 3000}",
            "routes:",
            "  - {path: /, service: app}",
        ]
        self.environments.mkdir(exist_ok=True)
        (self.environments / f"{environment}.yaml").write_text("\n".join(lines) + "\n", "utf-8")

    def served(
        self,
        issued: Issued,
        *chain: x509.Certificate,
        domains: Sequence[str] = ("example.test",),
        redirect_domains: Sequence[str] = (),
        environment: str = "production",
    ) -> tuple[Path, Path]:
        """`environment` serving `domains` with `issued` (then `chain`) and its key."""
        certificate = self.certificate(f"{environment}.pem", issued.certificate, *chain)
        key = self.key(f"{environment}.key", issued.key)
        self.environment(environment, domains, certificate, key, redirect_domains)
        return certificate, key

    def run(self, *arguments: str) -> Result:
        command = ["certs", "--environments", str(self.environments), *arguments]
        return CliRunner().invoke(app, command)

    def site(self, environment: str = "production") -> CertificateSite:
        plan = build_plan(load_environments(self.environments), Settings())
        return next(site for site in certificate_sites(plan) if site.name == environment)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


def leaf(
    intermediate: Issued,
    *sans: str,
    not_before: datetime.datetime = NOW - DAY,
    not_after: datetime.datetime = NOW + 90 * DAY,
) -> Issued:
    """A server certificate for `sans`, issued by `intermediate`."""
    return issue(sans[0], intermediate, sans=sans, not_before=not_before, not_after=not_after)


# --- a good certificate -----------------------------------------------------------------------


def test_a_complete_valid_chain_passes(project: Project, intermediate: Issued) -> None:
    certificate, _ = project.served(
        leaf(intermediate, "example.test", "www.example.test"),
        intermediate.certificate,
        domains=["example.test", "www.example.test"],
    )
    result = project.run()
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"production: {certificate}: info: expires on "
        f"{(NOW + 90 * DAY).strftime('%Y-%m-%d %H:%M')} UTC, in 89 day(s)\n"
        "0 error(s), 0 warning(s) in 1 environment(s)\n"
    )


def test_the_default_lets_encrypt_paths_of_the_plan_are_checked(project: Project) -> None:
    project.environment("production", ["*.example.test"], None, None)
    result = project.run()
    assert result.exit_code == 1
    live = "/etc/letsencrypt/live/example.test"
    assert f"production: {live}/fullchain.pem: error: not found" in result.stdout
    assert f"production: {live}/privkey.pem: error: not found" in result.stdout


def test_an_http_only_environment_has_nothing_to_check(project: Project) -> None:
    (project.root / "environments").mkdir()
    (project.environments / "local.yaml").write_text(
        "domains: [local.test]\ntls: false\nservices: {app: {host: app, port: 80}}\n"
        "routes: [{path: /, service: app}]\n",
        "utf-8",
    )
    result = project.run()
    assert result.exit_code == 0
    assert "local: -: info: HTTP only; no certificate to check" in result.stdout


def test_invalid_environments_are_input_errors(project: Project) -> None:
    project.environments.mkdir()
    (project.environments / "broken.yaml").write_text("domains: []\n", "utf-8")
    result = project.run()
    assert result.exit_code == 2
    assert "broken.yaml" in result.stderr


# --- files --------------------------------------------------------------------------------------


def test_a_missing_certificate_file_is_an_error(project: Project, intermediate: Issued) -> None:
    certificate, _ = project.served(leaf(intermediate, "example.test"), intermediate.certificate)
    certificate.unlink()
    result = project.run()
    assert result.exit_code == 1
    assert f"{certificate}: error: not found; nginx refuses to start" in result.stdout


def test_a_missing_key_file_is_an_error(project: Project, intermediate: Issued) -> None:
    _, key = project.served(leaf(intermediate, "example.test"), intermediate.certificate)
    key.unlink()
    result = project.run()
    assert result.exit_code == 1
    assert f"{key}: error: not found" in result.stdout


def test_an_unreadable_key_is_an_error(
    project: Project, intermediate: Issued, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, key = project.served(leaf(intermediate, "example.test"), intermediate.certificate)
    # Tests run as root here, and root reads files whatever their mode: refuse the read instead.
    read_bytes = Path.read_bytes

    def refuse(path: Path) -> bytes:
        if path == key:
            raise PermissionError(13, "Permission denied", str(path))
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", refuse)
    result = project.run()
    assert result.exit_code == 1
    assert f"{key}: error: cannot be read by this user (permission denied)" in result.stdout


def test_a_directory_in_place_of_the_key_is_an_error(
    project: Project, intermediate: Issued
) -> None:
    _, key = project.served(leaf(intermediate, "example.test"), intermediate.certificate)
    key.unlink()
    key.mkdir()
    result = project.run()
    assert result.exit_code == 1
    assert f"{key}: error: is a directory, not a file" in result.stdout


def test_a_certificate_that_is_not_pem_is_an_error(project: Project, intermediate: Issued) -> None:
    certificate, _ = project.served(leaf(intermediate, "example.test"), intermediate.certificate)
    certificate.write_bytes(b"not a certificate\n")
    result = project.run()
    assert result.exit_code == 1
    assert f"{certificate}: error: is not a PEM certificate file" in result.stdout


def test_a_key_that_is_not_pem_is_an_error(project: Project, intermediate: Issued) -> None:
    certificate, key = project.served(leaf(intermediate, "example.test"), intermediate.certificate)
    key.write_bytes(certificate.read_bytes())
    result = project.run()
    assert result.exit_code == 1
    assert f"{key}: error: is not a PEM private key" in result.stdout


def test_an_encrypted_key_is_an_error(project: Project, intermediate: Issued) -> None:
    issued = leaf(intermediate, "example.test")
    _, key = project.served(issued, intermediate.certificate)
    key.write_bytes(
        issued.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    result = project.run()
    assert result.exit_code == 1
    assert f"{key}: error: is an encrypted key" in result.stdout


# --- key and chain ------------------------------------------------------------------------------


def test_a_key_of_another_certificate_is_an_error(project: Project, intermediate: Issued) -> None:
    certificate, key = project.served(leaf(intermediate, "example.test"), intermediate.certificate)
    project.key(key.name, new_key())
    result = project.run()
    assert result.exit_code == 1
    assert (
        f"production: {key}: error: does not belong to the certificate in {certificate}"
        in result.stdout
    )


def test_a_chain_with_the_issuer_first_is_out_of_order(
    project: Project, intermediate: Issued
) -> None:
    issued = leaf(intermediate, "example.test")
    certificate = project.certificate(
        "wrong-order.pem", intermediate.certificate, issued.certificate
    )
    key = project.key("wrong-order.key", issued.key)
    project.environment("production", ["example.test"], certificate, key)
    result = project.run()
    assert result.exit_code == 1
    assert "error: the key belongs to certificate 2 (CN=example.test), not the first" in (
        result.stdout
    )
    assert (
        "error: certificate 1 (CN=Test Intermediate CA) is issued by CN=Test Root CA, "
        "but certificate 2 is CN=example.test"
    ) in result.stdout


def test_a_chain_with_a_foreign_intermediate_is_out_of_order(
    project: Project, intermediate: Issued
) -> None:
    other_ca = issue("Other CA", ca=True)
    project.served(leaf(intermediate, "example.test"), other_ca.certificate)
    result = project.run()
    assert result.exit_code == 1
    assert (
        "certificate 1 (CN=example.test) is issued by CN=Test Intermediate CA, "
        "but certificate 2 is CN=Other CA"
    ) in result.stdout


def test_an_issuer_with_the_right_name_but_another_key_did_not_sign(
    project: Project, root: Issued, intermediate: Issued
) -> None:
    impostor = issue("Test Intermediate CA", root, ca=True)
    project.served(leaf(intermediate, "example.test"), impostor.certificate)
    result = project.run()
    assert result.exit_code == 1
    assert "names certificate 2 as its issuer, but that certificate's key did not sign it" in (
        result.stdout
    )


def test_the_full_chain_up_to_the_root_is_in_order(
    project: Project, root: Issued, intermediate: Issued
) -> None:
    project.served(leaf(intermediate, "example.test"), intermediate.certificate, root.certificate)
    result = project.run()
    assert result.exit_code == 0, result.stdout
    assert "0 error(s), 0 warning(s)" in result.stdout


def test_a_certificate_without_its_intermediate_is_a_warning(
    project: Project, intermediate: Issued
) -> None:
    certificate, _ = project.served(leaf(intermediate, "example.test"))
    result = project.run()
    assert result.exit_code == 0
    assert (
        f"{certificate}: warning: holds only the server certificate; its issuer "
        "(CN=Test Intermediate CA) is missing"
    ) in result.stdout


def test_a_self_signed_certificate_alone_is_a_complete_chain(project: Project) -> None:
    key = new_key()
    certificate = project._write("self.pem", self_signed_certificate(key, ["example.test"]))
    project.environment("production", ["example.test"], certificate, project.key("self.key", key))
    result = project.run()
    assert result.exit_code == 0, result.stdout
    assert "0 error(s), 0 warning(s)" in result.stdout


# --- names --------------------------------------------------------------------------------------


def test_a_domain_missing_from_the_names_is_an_error(
    project: Project, intermediate: Issued
) -> None:
    certificate, _ = project.served(
        leaf(intermediate, "example.test"),
        intermediate.certificate,
        domains=["example.test", "www.example.test"],
    )
    result = project.run()
    assert result.exit_code == 1
    assert (
        f"{certificate}: error: does not cover www.example.test "
        "(subject alternative names: example.test)"
    ) in result.stdout


def test_a_redirect_only_domain_must_be_covered_too(project: Project, intermediate: Issued) -> None:
    project.served(
        leaf(intermediate, "example.test"),
        intermediate.certificate,
        redirect_domains=["old.test"],
    )
    result = project.run()
    assert result.exit_code == 1
    assert "error: does not cover old.test" in result.stdout


def test_a_certificate_without_subject_alternative_names_covers_nothing(
    project: Project, intermediate: Issued
) -> None:
    project.served(issue("example.test", intermediate), intermediate.certificate)
    result = project.run()
    assert result.exit_code == 1
    assert (
        "does not cover example.test (subject alternative names: none; clients ignore the "
        "common name)"
    ) in result.stdout


def test_a_wildcard_covers_one_label_below_it(project: Project, intermediate: Issued) -> None:
    project.served(
        leaf(intermediate, "*.example.test"),
        intermediate.certificate,
        domains=["a.example.test", "b.example.test", "*.example.test"],
    )
    result = project.run()
    assert result.exit_code == 0, result.stdout


def test_a_wildcard_does_not_cover_the_apex_or_deeper_names(
    project: Project, intermediate: Issued
) -> None:
    project.served(
        leaf(intermediate, "*.example.test"),
        intermediate.certificate,
        domains=["example.test", "a.b.example.test"],
    )
    result = project.run()
    assert result.exit_code == 1
    assert "does not cover example.test, a.b.example.test" in result.stdout


@pytest.mark.parametrize(
    ("certificate_name", "domain", "covered"),
    [
        ("example.com", "example.com", True),
        ("Example.COM", "example.com", True),
        ("example.com.", "example.com", True),
        ("example.com", "www.example.com", False),
        ("*.example.com", "a.example.com", True),
        ("*.example.com", "example.com", False),
        ("*.example.com", "a.b.example.com", False),
        ("*.example.com", "a.example.org", False),
        ("*.example.com", "*.example.com", True),
        ("a.example.com", "*.example.com", False),
        ("*.example.com", "*.b.example.com", False),
        ("*.com", "example.com", False),
        ("a*.example.com", "ab.example.com", False),
        ("*.*.example.com", "a.b.example.com", False),
    ],
)
def test_name_covers_follows_rfc_6125(certificate_name: str, domain: str, covered: bool) -> None:
    assert name_covers(certificate_name, domain) is covered


def test_uncovered_domains_keeps_the_given_order() -> None:
    names = ["*.example.com", "example.org"]
    domains = ["z.example.org", "a.example.com", "example.com", "example.org"]
    assert uncovered_domains(names, domains) == ["z.example.org", "example.com"]


# --- validity -----------------------------------------------------------------------------------


def findings_at(project: Project, now: datetime.datetime, warn_days: int = 21) -> list[CertFinding]:
    return inspect_environment_certificates(project.site(), now, warn_days)


def checks(findings: list[CertFinding]) -> list[tuple[str, str]]:
    return [(finding.severity, finding.check) for finding in findings]


def test_an_expired_certificate_is_an_error(project: Project, intermediate: Issued) -> None:
    expired = leaf(intermediate, "example.test", not_before=NOW - 91 * DAY, not_after=NOW - DAY)
    certificate, _ = project.served(expired, intermediate.certificate)
    result = project.run()
    assert result.exit_code == 1
    expiry = (NOW - DAY).strftime("%Y-%m-%d %H:%M")
    assert f"{certificate}: error: expired on {expiry} UTC" in result.stdout


def test_a_certificate_not_yet_valid_is_an_error(project: Project, intermediate: Issued) -> None:
    future = leaf(intermediate, "example.test", not_before=NOW + DAY, not_after=NOW + 91 * DAY)
    certificate, _ = project.served(future, intermediate.certificate)
    result = project.run()
    assert result.exit_code == 1
    start = (NOW + DAY).strftime("%Y-%m-%d %H:%M")
    assert f"{certificate}: error: is not valid before {start} UTC" in result.stdout


def test_a_certificate_expiring_soon_is_a_warning_only(
    project: Project, intermediate: Issued
) -> None:
    soon = leaf(
        intermediate, "example.test", not_after=NOW + 10 * DAY + datetime.timedelta(hours=1)
    )
    certificate, _ = project.served(soon, intermediate.certificate)
    result = project.run()
    assert result.exit_code == 0
    assert f"{certificate}: warning: expires on" in result.stdout
    assert "in 10 day(s) (under 21)" in result.stdout
    assert "0 error(s), 1 warning(s)" in result.stdout


def test_warn_days_sets_the_threshold(project: Project, intermediate: Issued) -> None:
    soon = leaf(
        intermediate, "example.test", not_after=NOW + 10 * DAY + datetime.timedelta(hours=1)
    )
    project.served(soon, intermediate.certificate)
    assert "warning:" not in project.run("--warn-days", "10").stdout
    assert "warning: expires on" in project.run("--warn-days", "11").stdout


def test_an_expired_intermediate_is_an_error(project: Project, root: Issued) -> None:
    old_ca = issue("Old CA", root, ca=True, not_before=NOW - 400 * DAY, not_after=NOW - DAY)
    project.served(leaf(old_ca, "example.test"), old_ca.certificate)
    result = project.run()
    assert result.exit_code == 1
    assert "error: chain certificate 2 (CN=Old CA) expired on" in result.stdout


def test_validity_follows_the_injected_time(project: Project, intermediate: Issued) -> None:
    start, end = NOW - DAY, NOW + 90 * DAY
    project.served(leaf(intermediate, "example.test", not_before=start, not_after=end))
    assert checks(findings_at(project, start - datetime.timedelta(seconds=1)))[-1] == (
        "error",
        "not-yet-valid",
    )
    valid = findings_at(project, end - 21 * DAY)
    assert checks(valid)[-1] == ("info", "expiry")
    assert valid[-1].days_left == 21
    soon = findings_at(project, end - 21 * DAY + datetime.timedelta(seconds=1))
    assert checks(soon)[-1] == ("warning", "expiring")
    assert soon[-1].days_left == 20
    assert checks(findings_at(project, end))[-1] == ("warning", "expiring")
    expired = findings_at(project, end + datetime.timedelta(seconds=1))
    assert checks(expired)[-1] == ("error", "expired")
    assert expired[-1].days_left == -1


# --- output -------------------------------------------------------------------------------------


def test_json_output_lists_every_finding_with_its_check(
    project: Project, intermediate: Issued
) -> None:
    soon = leaf(intermediate, "example.test", not_after=NOW + 5 * DAY + datetime.timedelta(hours=1))
    certificate, _ = project.served(
        soon, intermediate.certificate, domains=["example.test", "www.example.test"]
    )
    result = project.run("--format", "json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["ok"] is False
    assert [(f["severity"], f["check"], f["days_left"]) for f in document["findings"]] == [
        ("error", "san", None),
        ("warning", "expiring", 5),
    ]
    assert {f["environment"] for f in document["findings"]} == {"production"}
    assert {f["file"] for f in document["findings"]} == {str(certificate)}


def test_environments_are_reported_in_name_order(project: Project, intermediate: Issued) -> None:
    for environment in ("staging", "production", "beta"):
        project.served(
            leaf(intermediate, f"{environment}.test"),
            intermediate.certificate,
            domains=[f"{environment}.test"],
            environment=environment,
        )
    result = project.run()
    assert result.exit_code == 0, result.stdout
    order = [line.split(":")[0] for line in result.stdout.splitlines()[:-1]]
    assert order == ["beta", "production", "staging"]
    assert result.stdout.splitlines()[-1] == "0 error(s), 0 warning(s) in 3 environment(s)"
