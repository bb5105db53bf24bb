"""`nginx -t` with real nginx versions: every output nginxgen ships, and `nginxgen check` itself.

Each output is loaded the way users load it, as a `conf.d` file under the image's own stock
`nginx.conf`, on every test image (Debian's nginx 1.22, 1.26 and 1.30 by default) that is at least
the version the output says it needs (its `# Target: ...; needs nginx >= X.` header). One
container per image serves all the files.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nginx_fixtures import (
    OFFICIAL_LAYOUT_IMAGE,
    REPOSITORY,
    image_id,
    image_nginx_version,
    nginx_test_images,
    require_image,
)
from typer.testing import CliRunner

from nginxgen.cli import app
from nginxgen.commands.check import (
    configs_from_environments,
    configs_from_files,
    version_problem,
)
from nginxgen.commands.project import IMAGE_VARIABLE, resolve_image
from nginxgen.core.errors import UsageError
from nginxgen.core.facts import proxy_image
from nginxgen.core.markers import find_requirement
from nginxgen.core.versions import DEFAULT_TARGET, parse_version
from nginxgen.generation.models import CheckSettings, Settings
from nginxgen.generation.pipeline import generate
from nginxgen.nginx.docker_engine import DockerEngine
from nginxgen.nginx.runner import ConfigFile, nginx_test

IMAGES = nginx_test_images()
ENVIRONMENTS = REPOSITORY / "environments"
SHIPPED_OUTPUTS = [
    *sorted((REPOSITORY / "tests" / "cases").glob("*/expected.conf")),
    REPOSITORY / "out" / "nginx-ssl.conf",
]
ABSENT_IMAGE = "nginxgen-test/absent:never"


def relative(path: Path) -> str:
    return str(path.relative_to(REPOSITORY))


# Every test image, plus sid's nginx under the official image's stock files: outputs are loaded
# under each stock nginx.conf users run.
CHECK_IMAGES = [*IMAGES, OFFICIAL_LAYOUT_IMAGE]


@pytest.fixture(scope="module", params=CHECK_IMAGES, ids=image_id)
def engine(request: pytest.FixtureRequest, docker_client: Any) -> Iterator[DockerEngine]:
    """One container of each test image, reused by every `nginx -t` of this module."""
    with DockerEngine(require_image(docker_client, request.param), pull=False) as engine:
        yield engine


def needed_version(output: Path) -> tuple[int, ...]:
    """The oldest nginx an output says it works with; (0,) if it does not say."""
    requirement = find_requirement(output.read_text(encoding="utf-8"))
    return parse_version(requirement.needs) if requirement else (0,)


def engine_version(engine: DockerEngine) -> tuple[int, ...]:
    # `nginx -v -t` of the stock config alone.
    return parse_version(nginx_test([], engine).nginx_version)


def test_the_shipped_outputs_are_found() -> None:
    # A glob that matched nothing would make the nginx -t tests below pass on nothing.
    assert len(SHIPPED_OUTPUTS) > 1
    assert all(output.is_file() for output in SHIPPED_OUTPUTS)


@pytest.mark.nginx
def test_shipped_outputs_pass_nginx_t(engine: DockerEngine) -> None:
    version = engine_version(engine)
    tested, failures = [], {}
    for output in SHIPPED_OUTPUTS:
        if needed_version(output) > version:
            continue
        result = nginx_test([ConfigFile(output.name, output.read_text(encoding="utf-8"))], engine)
        tested.append(relative(output))
        if not result.ok:
            failures[relative(output)] = result.output
    assert tested, f"no shipped output is meant for nginx {version}"
    assert not failures, "\n".join(f"{name}:\n{output}" for name, output in failures.items())


@pytest.mark.nginx
def test_every_shipped_output_is_tested_on_some_image(docker_client: Any) -> None:
    newest = max(
        parse_version(image_nginx_version(docker_client, require_image(docker_client, image)))
        for image in IMAGES
    )
    untested = [relative(o) for o in SHIPPED_OUTPUTS if needed_version(o) > newest]
    assert not untested, f"needing a newer nginx than any test image ({newest}): {untested}"


@pytest.mark.nginx
def test_fragment_repeating_a_stock_http_directive_fails(engine: DockerEngine) -> None:
    # Every stock nginx.conf (Debian's and the official image's) sets default_type in `http`
    # before including conf.d: the check must catch a fragment that sets it again.
    text = "# environment: production (production.yaml)\ndefault_type text/plain;\n"
    result = nginx_test([ConfigFile("repeat.conf", text)], engine)
    assert not result.ok
    assert [(error.config, error.line) for error in result.errors] == [("repeat.conf", 2)]
    assert '"default_type" directive is duplicate' in result.errors[0].text


def broken_output(settings: Settings) -> str:
    """The shipped environments' output with one directive nginx rejects, in staging's part."""
    text = generate(ENVIRONMENTS, settings).text
    anchor = "server_name staging.daatan.com;"
    assert anchor in text
    return text.replace(anchor, f"{anchor}\n    proxy_buffering sometimes;", 1)


@pytest.mark.nginx
@pytest.mark.parametrize("image", CHECK_IMAGES, ids=image_id)
def test_check_passes_on_the_shipped_environments_rendered_for_each_nginx(
    image: str, docker_client: Any, tmp_path: Path
) -> None:
    version = image_nginx_version(docker_client, require_image(docker_client, image))
    settings = tmp_path / "nginxgen.yaml"
    settings.write_text(f'nginx_version: "{version}"\n', encoding="utf-8")
    result = CliRunner().invoke(
        app,
        [
            "check",
            "--environments",
            str(ENVIRONMENTS),
            "--settings",
            str(settings),
            "--image",
            image,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "nginx -t passed (nginx/1." in result.stdout
    assert image in result.stdout


@pytest.mark.nginx
def test_check_fails_clearly_when_the_image_is_older_than_the_output_needs(
    docker_client: Any,
) -> None:
    oldest = min(
        (require_image(docker_client, image) for image in IMAGES),
        key=lambda image: parse_version(image_nginx_version(docker_client, image)),
    )
    assert parse_version(image_nginx_version(docker_client, oldest)) < (1, 25, 1)
    # The shipped environments target 1.26 (`http2 on;`, nginx >= 1.25.1).
    result = CliRunner().invoke(
        app, ["check", "--environments", str(ENVIRONMENTS), "--image", oldest]
    )
    assert result.exit_code == 1, result.output
    assert "is older than this output needs (>= 1.25.1; generated for nginx 1.26)" in (
        result.stdout
    )


def test_version_problem_reads_the_requirement_from_the_header() -> None:
    text = "# Target: nginx 1.28; needs nginx >= 1.27.3.\nserver {}\n"
    config = ConfigFile("nginx-ssl.conf", text)
    assert version_problem(config, "nginx/1.27.3") is None
    assert version_problem(config, "nginx/1.30.0") is None
    problem = version_problem(config, "nginx/1.26.3")
    assert problem is not None
    assert problem.startswith("nginx-ssl.conf: nginx 1.26.3 is older than this output needs")
    # Hand-written configs say nothing, and an unknown version is nginx's to judge.
    assert version_problem(ConfigFile("a.conf", "server {}\n"), "nginx/1.0.0") is None
    assert version_problem(config, "unknown") is None


@pytest.mark.nginx
def test_check_fails_with_nginx_message_and_environment_file(
    tmp_path: Path, docker_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "nginx-ssl.conf"
    config.write_text(broken_output(Settings()), encoding="utf-8")
    line = config.read_text().splitlines().index("    proxy_buffering sometimes;") + 1
    # The image through the environment variable, as the tests and CI pass it. The newest one:
    # this test is about locating nginx's error, not about which versions the output targets.
    monkeypatch.setenv(IMAGE_VARIABLE, require_image(docker_client, IMAGES[-1]))
    result = CliRunner().invoke(app, ["check", "--config", str(config)])
    assert result.exit_code == 1, result.output
    assert (
        f'nginx-ssl.conf:{line}: [emerg] invalid value "sometimes" in "proxy_buffering" '
        'directive, it must be "on" or "off" (environment staging, from staging.yaml)'
    ) in result.stdout
    assert "nginx -t failed" in result.stdout


@pytest.mark.nginx
def test_check_exits_2_when_the_image_is_absent(docker_client: Any) -> None:
    assert not docker_client.images.list(name=ABSENT_IMAGE)
    result = CliRunner().invoke(
        app, ["check", "--environments", str(ENVIRONMENTS), "--image", ABSENT_IMAGE]
    )
    assert result.exit_code == 2, result.output
    assert f"The nginx image '{ABSENT_IMAGE}' is not available locally" in result.stderr
    assert f"docker pull {ABSENT_IMAGE}" in result.stderr


def test_check_exits_2_when_docker_is_not_reachable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    result = CliRunner().invoke(
        app, ["check", "--environments", str(ENVIRONMENTS), "--image", IMAGES[0]]
    )
    assert result.exit_code == 2, result.output
    assert "Docker is not reachable" in result.stderr
    assert "--engine local" in result.stderr


@pytest.fixture(scope="session")
def local_nginx_version() -> str:
    """The host nginx's version as `1.22`; the local engine's tests need that nginx."""
    binary = shutil.which("nginx")
    if binary is None:
        pytest.fail(
            "no nginx on this machine for the local engine's tests; run scripts/test-infra "
            "(it installs Debian's nginx-light without starting it)",
            pytrace=False,
        )
    completed = subprocess.run([binary, "-v"], capture_output=True, text=True, check=True)
    version = completed.stderr.strip().rsplit("/", 1)[-1]
    return ".".join(version.split(".")[:2])


@pytest.fixture
def local_settings(tmp_path: Path, local_nginx_version: str) -> Path:
    """A settings file targeting the host's nginx, whatever version the distribution ships."""
    settings = tmp_path / "nginxgen.yaml"
    settings.write_text(f'nginx_version: "{local_nginx_version}"\n', encoding="utf-8")
    return settings


@pytest.mark.nginx
def test_local_engine_passes_the_shipped_environments(local_settings: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "check",
            "--environments",
            str(ENVIRONMENTS),
            "--settings",
            str(local_settings),
            "--engine",
            "local",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "nginx -t passed (nginx/1." in result.stdout
    assert "local nginx binary" in result.stdout
    assert "4 TLS file path(s) were pointed at placeholders" in result.stderr


@pytest.mark.nginx
def test_local_engine_locates_errors_in_the_original_lines(
    tmp_path: Path, local_nginx_version: str
) -> None:
    config = tmp_path / "nginx-ssl.conf"
    config.write_text(broken_output(Settings(nginx_version=local_nginx_version)), encoding="utf-8")
    line = config.read_text().splitlines().index("    proxy_buffering sometimes;") + 1
    result = CliRunner().invoke(
        app, ["check", "--config", str(config), "--engine", "local", "--format", "json"]
    )
    assert result.exit_code == 1, result.output
    assert f'"line": {line}' in result.stdout
    assert '"environment_file": "staging.yaml"' in result.stdout


def test_local_engine_without_nginx_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "check",
            "--environments",
            str(ENVIRONMENTS),
            "--engine",
            "local",
            "--nginx-binary",
            str(tmp_path / "no-nginx"),
        ],
    )
    assert result.exit_code == 2, result.output
    assert "No nginx binary" in result.stderr


def test_image_option_beats_variable_beats_setting_beats_default() -> None:
    settings = Settings(check=CheckSettings(image="from/settings:1"))
    variable = {IMAGE_VARIABLE: "from/variable:1"}
    assert resolve_image("from/option:1", settings, variable) == "from/option:1"
    assert resolve_image(None, settings, variable) == "from/variable:1"
    assert resolve_image(None, settings, {}) == "from/settings:1"
    # The image compose runs: the official image of the targeted nginx.
    assert resolve_image(None, Settings(), {}) == proxy_image(None, DEFAULT_TARGET) == "nginx:1.26"


def test_environments_become_one_file_named_like_the_output() -> None:
    [config] = configs_from_environments(ENVIRONMENTS, Settings())
    assert config.name == "nginx-ssl.conf"
    assert "# environment: production (production.yaml)" in config.text


def test_config_files_must_exist_and_have_distinct_conf_d_names(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for folder in ("a", "b"):
        (tmp_path / folder / "site.conf").write_text("")
    with pytest.raises(UsageError, match="would both be conf.d/site.conf"):
        configs_from_files([tmp_path / "a" / "site.conf", tmp_path / "b" / "site.conf"])
    with pytest.raises(UsageError, match="no such config file"):
        configs_from_files([tmp_path / "missing.conf"])
