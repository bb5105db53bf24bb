"""`catch_all` and `real_ip` on the wire: `nginxgen test` runs the case `tests/cases/catch-all/`
(a catch-all environment with TLS beside a named one, real_ip in nginxgen.yaml) in a real nginx.

Any Host reaches the catch-all's service, over HTTPS and, redirected, over HTTP; the named
environment keeps its own name. The service sees the address of `X-Forwarded-For` only when the
request comes from a trusted range: the test client reaches nginx through Docker's port
forwarding, from the stack network's gateway, which 0.0.0.0/0 includes and 192.0.2.0/24 (an
address block reserved for documentation) does not.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from nginx_fixtures import require_image
from typer.testing import CliRunner, Result

from nginxgen.cli import app

pytestmark = pytest.mark.nginx

CASE = Path(__file__).resolve().parent / "cases" / "catch-all"
IMAGE = "nginxgen-test/nginx:trixie"
REAL_IP_TEST = ("environments/fallback.yaml", "tests[2]")


def run_test(project: Path, trusted: str) -> Result:
    settings = project / "nginxgen.yaml"
    text = settings.read_text(encoding="utf-8")
    settings.write_text(
        text.replace("from: [10.0.0.0/8, 172.16.0.0/12]", f"from: [{trusted}]"), encoding="utf-8"
    )
    return CliRunner().invoke(app, ["test", "--image", IMAGE, "--format", "json"])


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, docker_client: Any) -> Path:
    require_image(docker_client, IMAGE)
    shutil.copytree(CASE, tmp_path / "project", ignore=shutil.ignore_patterns("expected.*"))
    monkeypatch.chdir(tmp_path / "project")
    return tmp_path / "project"


def outcomes(result: Result) -> dict[tuple[str, str], dict[str, Any]]:
    document = json.loads(result.stdout)
    (phase,) = document["phases"]
    return {(item["file"], item["test"]): item for item in phase["results"]}


def test_any_name_reaches_the_catch_all_and_a_trusted_proxy_gives_the_address(
    project: Path,
) -> None:
    result = run_test(project, "0.0.0.0/0")
    assert result.exit_code == 0, result.stdout + result.stderr
    found = outcomes(result)
    assert found[("environments/fallback.yaml", "tests[0]")]["answered_by"] == "landing:8080"
    assert found[("environments/shop.yaml", "tests[0]")]["answered_by"] == "shop:3000"
    received = found[REAL_IP_TEST]["received"]["headers"]
    assert received["x-real-ip"] == "203.0.113.7"
    # The implicit route case of the catch-all goes to a name nobody serves.
    labels = {label for _, label in found}
    assert "routes[0] / reaches its service" in labels
    assert not any("default_server" in label for label in labels)


def test_an_untrusted_client_cannot_choose_its_address(project: Path) -> None:
    result = run_test(project, "192.0.2.0/24")
    assert result.exit_code == 1, result.stdout + result.stderr
    found = outcomes(result)
    failed = [key for key, item in found.items() if not item["passed"]]
    assert failed == [REAL_IP_TEST]
    received = found[REAL_IP_TEST]["received"]["headers"]
    assert received["x-real-ip"] != "203.0.113.7"
    assert received["x-forwarded-for"].startswith("203.0.113.7, ")
