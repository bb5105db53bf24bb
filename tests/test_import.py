"""`nginxgen import`: case folders under tests/cases/import/<name>/ hold the input (a config file,
or `stdin.txt` for an `nginx -T` dump), the environment files expected under `expected/`, and
the report expected (`expected-report.txt`, its first line the exit code). Regenerate with
`pytest --update-goldens`, then read the diff."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nginxgen.adopt.convert import environment_name
from nginxgen.adopt.inputs import placeholder_inputs
from nginxgen.adopt.template import Unresolved, parse_variable, substitute
from nginxgen.adopt.verify import probes, regex_sample
from nginxgen.cli import app
from nginxgen.commands.import_ import import_config, import_environments
from nginxgen.core.errors import UsageError
from nginxgen.core.formats import OutputFormat
from nginxgen.generation.loader import load_settings
from nginxgen.generation.pipeline import generate
from nginxgen.nginx.config import load_path

CASES = Path(__file__).resolve().parent / "cases" / "import"
IMPORT_CASES = sorted(path for path in CASES.iterdir() if path.is_dir())
POST_MORTEM = CASES / "post-mortem"


def case_input(case: Path) -> str:
    configs = sorted(path.name for path in [*case.glob("*.conf"), *case.glob("*.template")])
    return configs[0] if configs else "-"


def case_variables(case: Path) -> list[str]:
    """`vars.txt`: the case's `--var NAME=VALUE` options, one a line."""
    file = case / "vars.txt"
    return file.read_text().splitlines() if file.is_file() else []


def run_case(case: Path, into: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    monkeypatch.chdir(case)
    source = case_input(case)
    stdin = io.StringIO((case / "stdin.txt").read_text()) if source == "-" else None
    report = import_config(
        source, into, False, OutputFormat.text, stdin=stdin, variables=case_variables(case)
    )
    return report.exit_code, report.stdout.replace(str(into), "OUT")


def test_the_cases_are_found() -> None:
    names = {case.name for case in IMPORT_CASES}
    assert {
        "post-mortem",
        "nginx-t-dump",
        "regex-order",
        "not-expressible",
        "compose-catch-all",
        "certbot-shared-port-80",
        "http-level-cache-real-ip",
        "envsubst-template",
    } <= names


@pytest.mark.parametrize("case", IMPORT_CASES, ids=lambda case: case.name)
def test_golden(
    case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, update_goldens: bool
) -> None:
    exit_code, report = run_case(case, tmp_path, monkeypatch)
    written = {
        str(path.relative_to(tmp_path)): path.read_text()
        for path in sorted(tmp_path.rglob("*"))
        if path.is_file()
    }
    expected_dir, expected_report = case / "expected", case / "expected-report.txt"
    actual_report = f"exit: {exit_code}\n{report}"
    if update_goldens:
        shutil.rmtree(expected_dir, ignore_errors=True)
        for name, text in written.items():
            (expected_dir / name).parent.mkdir(parents=True, exist_ok=True)
            (expected_dir / name).write_text(text)
        expected_report.write_text(actual_report)
    expected = {
        str(path.relative_to(expected_dir)): path.read_text()
        for path in sorted(expected_dir.rglob("*"))
        if path.is_file()
    }
    assert written == expected
    assert actual_report == expected_report.read_text()
    # What was written renders with the ordinary pipeline.
    settings_file = tmp_path / "nginxgen.yaml"
    settings = load_settings(settings_file if settings_file.is_file() else None)
    assert "server {" in generate(tmp_path / "environments", settings).text


def test_exit_codes_say_whether_everything_converted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_case(POST_MORTEM, tmp_path / "a", monkeypatch)[0] == 0
    assert run_case(CASES / "not-expressible", tmp_path / "b", monkeypatch)[0] == 1
    # The files are still written when something was left.
    assert (tmp_path / "b" / "environments" / "legacy-example-net.yaml").is_file()


def test_post_mortem_becomes_two_startup_safe_environments() -> None:
    imported = import_environments(str(POST_MORTEM / "nginx-ssl.conf"))
    assert [name for name, _ in imported.conversion.environments] == [
        "daatan-com",
        "staging-daatan-com",
    ]
    production = dict(imported.conversion.environments)["daatan-com"]
    assert production["services"] == {"app": {"host": "app", "port": 3000}}
    assert "upstream app " not in imported.rendered
    assert "set $upstream_daatan_com_app http://app:3000;" in imported.rendered
    assert imported.comparison.identical
    assert "resolves app (upstream app)" in imported.intended_difference()


def test_regex_routes_keep_the_original_order() -> None:
    imported = import_environments(str(CASES / "regex-order" / "default.conf"))
    routes = imported.conversion.environments[0][1]["routes"]
    regexes = [route["path"] for route in routes if route.get("match") == "regex"]
    assert regexes == [r"(?i)\.(png|jpg|svg)$", "^/api/v1/legacy/", "^/api/v[0-9]+/"]


def test_never_overwrites(tmp_path: Path) -> None:
    existing = tmp_path / "environments" / "daatan-com.yaml"
    existing.parent.mkdir()
    existing.write_text("mine\n")
    with pytest.raises(UsageError, match="not overwriting"):
        import_config(str(POST_MORTEM / "nginx-ssl.conf"), tmp_path, False, OutputFormat.text)
    assert existing.read_text() == "mine\n"
    assert not (tmp_path / "environments" / "staging-daatan-com.yaml").exists()


def test_dry_run_writes_nothing_and_prints_the_files(tmp_path: Path) -> None:
    report = import_config(str(POST_MORTEM / "nginx-ssl.conf"), tmp_path, True, OutputFormat.text)
    assert list(tmp_path.iterdir()) == []
    assert "(would write)" in report.stdout
    assert "host: app-staging" in report.stdout


def test_cli_json_and_bad_input(tmp_path: Path) -> None:
    runner = CliRunner()
    source = str(POST_MORTEM / "nginx-ssl.conf")
    result = runner.invoke(app, ["import", source, "--into", str(tmp_path), "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["complete"] is True
    assert all(file["written"] for file in document["files"])
    broken = tmp_path / "broken.conf"
    broken.write_text("server { listen 80;\n")
    result = runner.invoke(app, ["import", str(broken), "--dry-run"])
    assert result.exit_code == 2
    assert "broken.conf" in result.stderr


def test_environment_names_are_valid_and_distinct() -> None:
    assert environment_name("staging.daatan.com", set()) == "staging-daatan-com"
    assert environment_name("*.example.com", set()) == "wildcard-example-com"
    assert environment_name("a.b", {"a-b"}) == "a-b-2"


def test_requests_cover_every_location_and_regex_samples_match() -> None:
    config = load_path(POST_MORTEM / "nginx-ssl.conf")
    urls = {str(probe) for probe in probes(config)}
    assert "https://staging.daatan.com/ws/verify" in urls
    assert "http://www.daatan.com/.well-known/acme-challenge/" in urls
    assert regex_sample(r"^/api/v[0-9]+/") == "/api/v0/"
    assert regex_sample(r"(?i)\.(png|jpg|svg)$") == "/verify.png"


TEMPLATE = CASES / "envsubst-template" / "default.conf.template"


def test_a_template_without_its_values_lists_each_on_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["import", str(TEMPLATE), "--into", str(tmp_path), "--var", "APP_HOST=app"]
    )
    assert result.exit_code == 2
    first, *rest = result.stderr.splitlines()
    assert "template variables without a value: APP_PORT, NGINX_HOST" in first
    assert "--var NAME=VALUE" in first
    assert "\\n" not in result.stderr  # line breaks, not their escapes
    assert any(line.endswith(":5: ${NGINX_HOST}") for line in rest)
    assert any(line.endswith(":8: ${APP_PORT}") for line in rest)
    assert not (tmp_path / "environments").exists()


def test_var_substitutes_before_parsing_and_leaves_nginx_variables() -> None:
    text, unresolved = substitute(
        "server_name ${HOST}; proxy_set_header X $host${request_uri}; # ${NOT}\n# $SKIP\n",
        {"HOST": "a.example"},
    )
    assert text.startswith("server_name a.example; proxy_set_header X $host${request_uri};")
    assert unresolved == [Unresolved(1, "NOT")]  # a trailing comment is still text here
    with pytest.raises(ValueError, match="NAME=VALUE"):
        parse_variable("no-equals")
    with pytest.raises(ValueError, match="one line"):
        parse_variable("A=b\nc")
    assert parse_variable("A=b=c") == ("A", "b=c")


def test_bad_var_is_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["import", str(TEMPLATE), "--var", "1X=a"])
    assert result.exit_code == 2
    assert "--var '1X=a'" in result.stderr


def test_no_convertible_server_lists_why_on_lines_of_their_own(tmp_path: Path) -> None:
    config = tmp_path / "fpm.conf"
    config.write_text(
        "server {\n  listen 80;\n  location ~ \\.php$ {\n    fastcgi_pass app:9000;\n  }\n}\n"
    )
    result = CliRunner().invoke(app, ["import", str(config), "--dry-run"])
    assert result.exit_code == 2
    first, *rest = result.stderr.splitlines()
    assert first.endswith("fpm.conf: no server nginxgen can convert")
    assert rest and all(line.startswith("  ") for line in rest)


def test_only_the_default_of_a_port_is_the_catch_all(tmp_path: Path) -> None:
    config = tmp_path / "two.conf"
    config.write_text(
        "server { listen 80; location / { proxy_pass http://first:80; } }\n"
        "server { listen 80; server_name _; location / { proxy_pass http://second:80; } }\n"
    )
    imported = import_environments(str(config))
    ((_, data),) = imported.conversion.environments
    assert data["catch_all"] is True and "domains" not in data
    assert data["services"] == {"first": {"host": "first", "port": 80}}
    left = [f for f in imported.conversion.findings if f.kind == "not converted"]
    assert [f.line for f in left] == [2]
    assert "another server is the default" in left[0].reason


def test_a_shared_port_80_server_gives_every_site_its_acme_webroot() -> None:
    imported = import_environments(str(CASES / "certbot-shared-port-80" / "nginx-ssl.conf"))
    environments = dict(imported.conversion.environments)
    for data in environments.values():
        assert data["tls"].get("acme_webroot", "/var/www/certbot") == "/var/www/certbot"
    assert environments["daatan-com"]["domains"] == ["daatan.com", "www.daatan.com"]
    assert environments["daatan-com"]["redirect_to_primary"] is True
    assert "location ^~ /.well-known/acme-challenge/" in imported.rendered
    assert imported.rendered.count("root /var/www/certbot;") == 3  # daatan, www, staging


def test_http_level_settings_are_written_to_nginxgen_yaml() -> None:
    imported = import_environments(str(CASES / "http-level-cache-real-ip" / "shop.conf"))
    settings = imported.conversion.settings
    assert settings["real_ip"] == {
        "from": ["173.245.48.0/20", "2400:cb00::/32"],
        "header": "CF-Connecting-IP",
    }
    assert settings["raw"][0].startswith("proxy_cache_path /var/cache/nginx/shop ")
    assert "real_ip_header CF-Connecting-IP;" in imported.rendered


def test_verify_placeholders_cover_every_file_the_original_reads(tmp_path: Path) -> None:
    config = tmp_path / "site.conf"
    config.write_text(
        "server {\n listen 443 ssl;\n server_name a.example;\n"
        " ssl_certificate /c/a.pem;\n ssl_certificate_key /c/a.key;\n"
        " ssl_dhparam /etc/letsencrypt/ssl-dhparams.pem;\n"
        " include /etc/letsencrypt/options-ssl-nginx.conf;\n"
        " auth_basic_user_file htpasswd/a;\n"
        " location / { proxy_pass http://a:80; }\n}\n"
    )
    files = placeholder_inputs(load_path(config))
    assert files["/etc/letsencrypt/ssl-dhparams.pem"].startswith(b"-----BEGIN DH PARAMETERS-----")
    assert files["/etc/letsencrypt/options-ssl-nginx.conf"] == b""
    assert files["/etc/nginx/htpasswd/a"] == b""


def test_a_server_with_its_own_gzip_keeps_it_and_turns_the_default_compression_off(
    tmp_path: Path,
) -> None:
    # The default compression would repeat `gzip` in the same server, which nginx refuses.
    config = tmp_path / "site.conf"
    config.write_text(
        "server {\n    listen 80;\n    server_name localhost;\n    gzip on;\n"
        "    gzip_types text/plain application/json;\n"
        "    location / { proxy_pass http://app:3000; }\n}\n",
        encoding="utf-8",
    )
    report = import_config(str(config), tmp_path / "out", False, OutputFormat.text)
    assert report.exit_code in (0, 1), report.stdout + report.stderr
    (written,) = (tmp_path / "out" / "environments").glob("*.yaml")
    text = written.read_text(encoding="utf-8")
    assert "compression: false" in text and "gzip on" in text
