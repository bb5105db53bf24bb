"""ACME without containers: the `acme:` settings and their located errors, wildcards under
HTTP-01, the pending plan, certbot's arguments and its one-line reasons, the orders, and
`certs` reading the compose layout's files or `--root`."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nginxgen.cli import app
from nginxgen.commands.certs import certs
from nginxgen.core.errors import ConfigError
from nginxgen.core.formats import OutputFormat
from nginxgen.docker.acme import (
    AcmeClient,
    certonly_arguments,
    failure_reason,
    renew_arguments,
)
from nginxgen.generation.loader import load_settings
from nginxgen.generation.models import LETSENCRYPT_STAGING_DIRECTORY, Settings
from nginxgen.generation.pipeline import generate
from nginxgen.nginx.certificates import CertificateSite, Order, acme_orders, lineage

NOW = datetime.datetime(2026, 12, 8, tzinfo=datetime.UTC)
ACME = "acme:\n  email: ops@example.test\n"
CLIENT = AcmeClient("ops@example.test", "https://pebble:14000/dir", "certbot/certbot", "http-01")


def environment(directory: Path, name: str, domains: list[str]) -> None:
    directory.mkdir(exist_ok=True)
    (directory / f"{name}.yaml").write_text(
        f"domains: {json.dumps(domains)}\n"
        "services:\n  app: {host: app, port: 3000}\nroutes:\n  - {path: /, service: app}\n",
        encoding="utf-8",
    )


def settings_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "nginxgen.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# ---- settings -------------------------------------------------------------------------------


def test_acme_settings_have_defaults_and_the_staging_shorthand(tmp_path: Path) -> None:
    settings = load_settings(settings_file(tmp_path, ACME + "  directory: staging\n"))
    assert settings.acme is not None and settings.acme.issues
    assert settings.acme.directory == LETSENCRYPT_STAGING_DIRECTORY
    assert settings.acme.image == "certbot/certbot"
    assert (settings.acme.challenge, settings.acme.renew_before) == ("http-01", 30)
    assert Settings().acme is None


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("acme:\n  email: 'not an address'\n", "nginxgen.yaml:2:10: acme.email", "one e-mail"),
        (ACME + "  challenge: tls-alpn-01\n", "nginxgen.yaml:3:14: acme.challenge", "http-01"),
        (ACME + "  challenge: dns-01\n", "nginxgen.yaml:1:1: acme", "needs dns"),
        (ACME + "  renew_before: 0\n", "nginxgen.yaml:3:17: acme.renew_before", "1"),
        (ACME + "  directory: 'ftp://x'\n", "nginxgen.yaml:3:14: acme.directory", "a URL"),
        (ACME + "  dns: {plugin: 'rfc 2136', credentials: x}\n", "acme.dns.plugin", "DNS plugin"),
        (ACME + "  emial: x\n", "nginxgen.yaml:3:3: acme.emial", ""),
    ],
)
def test_bad_acme_settings_are_located_errors(
    tmp_path: Path, text: str, where: str, message: str
) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(settings_file(tmp_path, text))
    assert where in str(error.value) and message in str(error.value)


def test_the_settings_schema_documents_acme() -> None:
    result = CliRunner().invoke(app, ["schema", "settings"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    acme = schema["$defs"]["AcmeSettings"]["properties"]
    assert {"email", "directory", "ca_certificate", "image", "challenge", "dns"} <= set(acme)
    assert "renew_before" in acme


def test_a_wildcard_under_http_01_is_refused_where_it_is_written(tmp_path: Path) -> None:
    environment(tmp_path, "wild", ["*.example.test"])
    with pytest.raises(ConfigError) as error:
        generate(tmp_path, Settings.model_validate({"acme": {"email": "a@example.test"}}))
    assert "wild.yaml:1:" in str(error.value) and "DNS-01 only" in str(error.value)
    dns = {"challenge": "dns-01", "dns": {"plugin": "rfc2136", "credentials": "x.ini"}}
    generate(tmp_path, Settings.model_validate({"acme": {"email": "a@example.test", **dns}}))
    generate(tmp_path, Settings())  # without acme, nobody issues it: no rule


# ---- the pending candidate ------------------------------------------------------------------


def test_a_pending_environment_serves_port_80_only_with_the_webroot_and_a_503(
    tmp_path: Path,
) -> None:
    environment(tmp_path, "shop", ["shop.test", "www.shop.test"])
    environment(tmp_path, "blog", ["blog.test"])
    text = generate(tmp_path, Settings(), pending={"shop"}).text
    shop = text[text.index("# environment: shop") :]
    assert "listen 443" not in shop and "return 301" not in shop
    assert "server_name shop.test www.shop.test;" in shop
    assert "location ^~ /.well-known/acme-challenge/ {\n        root /var/www/certbot;" in shop
    assert 'return 503 "certificate pending:' in shop and "Retry-After 30" in shop
    blog = text[text.index("# environment: blog") : text.index("# environment: shop")]
    assert "listen 443 ssl" in blog and "return 301 https://$host$request_uri;" in blog


def test_when_every_https_environment_is_pending_no_https_server_is_left(tmp_path: Path) -> None:
    """A first deploy with one HTTPS site waiting for its certificate: no default HTTPS server
    either (it would carry an empty `ssl_protocols`, which nginx refuses)."""
    environment(tmp_path, "shop", ["shop.test"])
    generated = generate(tmp_path, Settings(), pending={"shop"})
    assert not generated.plan.default_https
    assert "listen 443" not in generated.text and "ssl_protocols" not in generated.text
    assert generate(tmp_path, Settings()).plan.default_https


# ---- certbot --------------------------------------------------------------------------------

ORDER = Order(
    "shop",
    "shop.test",
    ("shop.test", "www.shop.test"),
    "/etc/letsencrypt/live/shop.test/fullchain.pem",
    "/etc/letsencrypt/live/shop.test/privkey.pem",
    "/var/www/certbot",
)


def test_certbot_arguments_name_the_lineage_every_domain_and_the_challenge() -> None:
    arguments = certonly_arguments(CLIENT, ORDER)
    assert arguments[:2] == ["certonly", "--non-interactive"]
    assert arguments[6:8] == ["--server", "https://pebble:14000/dir"]
    assert "--cert-name shop.test" in " ".join(arguments)
    assert "--webroot --webroot-path /var/www/certbot -d shop.test -d www.shop.test" in " ".join(
        arguments
    )
    dns = AcmeClient(
        "ops@example.test", "https://x/dir", "certbot/certbot", "dns-01", None, "rfc2136", b"", 5
    )
    joined = " ".join(certonly_arguments(dns, ORDER))
    assert "--authenticator dns-rfc2136 --dns-rfc2136-credentials /nginxgen/" in joined
    assert "--dns-rfc2136-propagation-seconds 5" in joined and "--webroot" not in joined
    renew = renew_arguments(ORDER)
    assert "--no-random-sleep-on-renew" in renew and renew[-2:] == ["--cert-name", "shop.test"]


CHALLENGE_FAILED = """\
Saving debug log to /var/log/letsencrypt/letsencrypt.log
Requesting a certificate for shop.test
Certbot failed to authenticate some domains (authenticator: webroot). The Certificate Authority \
reported these problems:
  Domain: shop.test
  Type:   unauthorized
  Detail: 192.168.1.5: Invalid response from http://shop.test/.well-known/acme-challenge/x: 404

Hint: The Certificate Authority failed to download the temporary challenge files created by \
Certbot.

Some challenges have failed.
Ask for help or search for solutions at https://community.letsencrypt.org. See the logfile \
/var/log/letsencrypt/letsencrypt.log or re-run Certbot with -v for more details.
"""
UNREACHABLE = """\
Saving debug log to /var/log/letsencrypt/letsencrypt.log
An unexpected error occurred:
requests.exceptions.ConnectionError: HTTPSConnectionPool(host='pebble', port=14000): Max retries \
exceeded with url: /dir (Caused by NameResolutionError("Failed to resolve 'pebble'"))
Ask for help or search for solutions at https://community.letsencrypt.org.
"""
RATE_LIMITED = """\
An unexpected error occurred:
Error creating new order :: too many certificates (5) already issued for this exact set of domains
Ask for help or search for solutions at https://community.letsencrypt.org.
"""


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        (
            CHALLENGE_FAILED,
            "shop.test: unauthorized: 192.168.1.5: Invalid response from "
            "http://shop.test/.well-known/acme-challenge/x: 404",
        ),
        (UNREACHABLE, "the ACME server https://x/dir is unreachable: requests.exceptions."),
        (RATE_LIMITED, "Error creating new order :: too many certificates (5) already issued"),
        ("", "certbot failed without a message"),
    ],
)
def test_certbots_reason_is_one_line(output: str, reason: str) -> None:
    found = failure_reason(output, "https://x/dir")
    assert found.startswith(reason) and "\n" not in found


def test_acme_keeps_the_certificates_at_certbots_paths_only() -> None:
    assert lineage("/etc/letsencrypt/live/shop.test/fullchain.pem") == "shop.test"
    assert lineage("/etc/letsencrypt/live/../fullchain.pem") is None
    assert lineage("/srv/tls/shop.pem") is None
    sites = [
        CertificateSite("shop", (ORDER.certificate, ORDER.key), ORDER.domains),
        CertificateSite("own", ("/srv/own.pem", "/srv/own.key"), ("own.test",)),
        CertificateSite("plain", None, ("plain.test",)),
    ]
    assert acme_orders(sites, {"shop": "/var/www/certbot"}) == [ORDER]


# ---- certs on the host ----------------------------------------------------------------------


def test_certs_reads_the_compose_layout_and_says_what_deploy_would_issue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    environment(tmp_path / "environments", "shop", ["shop.test"])
    (tmp_path / "certbot" / "conf").mkdir(parents=True)
    report = certs(None, None, 21, OutputFormat.text, NOW, here=tmp_path)
    assert report.exit_code == 1
    assert "/etc/letsencrypt read from ./certbot/conf" in report.stdout
    assert "shop: /etc/letsencrypt/live/shop.test/fullchain.pem: error: not found" in report.stdout

    settings = settings_file(tmp_path, ACME)
    report = certs(None, settings, 21, OutputFormat.text, NOW, here=tmp_path)
    assert report.exit_code == 0, report.stdout
    assert "info: the next `nginxgen deploy` obtains it: certbot http-01 for shop.test" in (
        report.stdout
    )


def test_certs_root_reads_every_path_under_it(tmp_path: Path) -> None:
    environment(tmp_path / "environments", "shop", ["shop.test"])
    root = tmp_path / "copy"
    live = root / "etc/letsencrypt/live/shop.test"
    live.mkdir(parents=True)
    (live / "fullchain.pem").write_text("not a certificate\n", encoding="utf-8")
    report = certs(tmp_path / "environments", None, 21, OutputFormat.json, NOW, root=root)
    document = json.loads(report.stdout)
    assert document["read"].startswith(f"files read under {root}")
    checks = {finding["check"] for finding in document["findings"]}
    assert {"unparsable", "missing"} <= checks  # the certificate is there, its key is not
