"""`nginxgen import --verify` with real nginx: the post-mortem config, certbot's layout (its
options include and dhparam given placeholders) and a compose sample's catch-all answer every
request alike with their imports; a changed import is caught."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nginxgen.adopt.verify import probes, verify_import
from nginxgen.commands.import_ import import_config, import_environments
from nginxgen.core.formats import OutputFormat
from nginxgen.nginx.config import load_path

POST_MORTEM = Path(__file__).resolve().parent / "cases" / "import" / "post-mortem"
IMAGE = "nginxgen-test/nginx:sid"

pytestmark = pytest.mark.nginx


def test_verify_post_mortem(docker_client: Any, tmp_path: Path) -> None:
    report = import_config(
        str(POST_MORTEM / "nginx-ssl.conf"), tmp_path, False, OutputFormat.text, True, IMAGE
    )
    assert report.exit_code == 0, report.stdout
    assert "every answer the same" in report.stdout
    assert "verified in" in report.stdout


def test_verify_catches_a_different_target(docker_client: Any) -> None:
    imported = import_environments(str(POST_MORTEM / "nginx-ssl.conf"))
    wrong = imported.rendered.replace("http://app-staging:3000", "http://app:3000")
    result = verify_import(imported.input.config, imported.input.texts, wrong, IMAGE)
    assert not result.ok
    differing = {str(probe) for probe, _, _ in result.differing}
    assert "https://staging.daatan.com/" in differing
    assert "https://daatan.com/" not in differing
    # Every container of the run is removed, and its network (other runs may verify at the same
    # time: only the names beginning with this run's network count).
    assert result.network
    assert not docker_client.containers.list(all=True, filters={"name": result.network})
    assert not docker_client.networks.list(names=[result.network])


CERTBOT = Path(__file__).resolve().parent / "cases" / "import" / "certbot-shared-port-80"


def test_verify_certbot_layout_keeps_www_and_every_acme_webroot(tmp_path: Path) -> None:
    # The original reads certbot's options include and ssl_dhparam, neither of them here:
    # --verify gives both a placeholder, so the original starts and answers like the import.
    report = import_config(
        str(CERTBOT / "nginx-ssl.conf"), tmp_path, False, OutputFormat.text, True, IMAGE
    )
    assert report.exit_code == 0, report.stdout
    assert "every answer the same" in report.stdout
    for name in ("daatan-com", "staging-daatan-com"):
        text = (tmp_path / "environments" / f"{name}.yaml").read_text()
        assert "acme_webroot" not in text  # the default, /var/www/certbot: kept
    assert "www.daatan.com" in (tmp_path / "environments" / "daatan-com.yaml").read_text()
    asked = {str(probe) for probe in probes(load_path(CERTBOT / "nginx-ssl.conf"))}
    assert {"http://www.daatan.com/", "https://www.daatan.com/", "http://staging.daatan.com/"} <= (
        asked
    )


def test_verify_a_compose_catch_all(tmp_path: Path) -> None:
    case = Path(__file__).resolve().parent / "cases" / "import" / "compose-catch-all"
    report = import_config(
        str(case / "default.conf"), tmp_path, False, OutputFormat.text, True, IMAGE
    )
    assert report.exit_code == 0, report.stdout
    assert "every answer the same" in report.stdout
    assert "catch_all: true" in (tmp_path / "environments" / "site.yaml").read_text()
