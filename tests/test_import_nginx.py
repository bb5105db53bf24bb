"""`nginxgen import --verify` with real nginx: the post-mortem config and its import answer
every request alike; a changed import is caught."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nginxgen.adopt.verify import verify_import
from nginxgen.commands.import_ import import_config, import_environments
from nginxgen.core.formats import OutputFormat

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
