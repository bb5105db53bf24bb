"""Hostile files and faults through the CLI: each is exit 2 (or a stale drift check), never a
hang, never exit 3, and every message is one line naming the path.

The error cases that can live in a case folder are in tests/cases/errors/; these are the ones
that cannot (a FIFO, an unreadable file, a file name with a newline, a huge file, a failing
disk)."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from nginxgen.cli import app
from nginxgen.core.errors import ConfigError, Problem
from nginxgen.generation import loader
from nginxgen.nginx.sandbox import unreachable_advice

CASES = Path(__file__).resolve().parent / "cases"
ERROR_CASES = sorted(path for path in (CASES / "errors").iterdir() if path.is_dir())
SHIPPED = CASES / "shipped"
GOOD = """\
domains: [good.example.com]
services:
  app: {host: app, port: 3000}
routes:
  - {path: /, service: app}
"""


def run(*arguments: str) -> Result:
    return CliRunner().invoke(app, list(arguments))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "good.yaml").write_text(GOOD, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def assert_one_error(result: Result, expected: str) -> None:
    assert result.exit_code == 2, result.stdout + result.stderr
    assert result.stdout == ""
    assert result.stderr == expected + "\n"


# --- odd files --------------------------------------------------------------------------------


def test_a_fifo_environment_file_is_refused_without_reading_it(project: Path) -> None:
    os.mkfifo(project / "environments" / "pipe.yaml")
    # A subprocess, so that a regression hangs only it (the timeout is a guard, not a measure).
    process = subprocess.run(
        [sys.executable, "-c", "from nginxgen.cli import main; main()", "validate"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=project,
    )
    assert process.returncode == 2, process.stderr
    assert process.stderr == "environments/pipe.yaml:1:1: is a named pipe (FIFO), not a file\n"


def test_an_unreadable_environment_file_is_named(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tests run as root, whom chmod 000 does not stop: the refusal is simulated at open(2).
    real_open = os.open

    def refuse(path: object, flags: int, *arguments: object, **keywords: object) -> int:
        if str(path).endswith("locked.yaml"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *arguments, **keywords)  # type: ignore[arg-type]

    (project / "environments" / "locked.yaml").write_text(GOOD, encoding="utf-8")
    monkeypatch.setattr(os, "open", refuse)
    assert_one_error(
        run("validate"), "environments/locked.yaml:1:1: cannot read: Permission denied"
    )


def test_a_file_larger_than_the_limit_is_refused(project: Path) -> None:
    padding = "# padding\n" * (loader.MAX_FILE_BYTES // 10 + 1)
    (project / "environments" / "big.yaml").write_text(GOOD + padding, encoding="utf-8")
    assert_one_error(
        run("render"),
        f"environments/big.yaml:1:1: is larger than {loader.MAX_FILE_BYTES} bytes",
    )


def test_a_file_name_with_a_newline_is_one_escaped_line(project: Path) -> None:
    (project / "environments" / "a\n.yaml").write_text(
        GOOD.replace("good.", "other."), encoding="utf-8"
    )
    assert_one_error(
        run("render"),
        "environments/a\\n.yaml:1:1: environment name 'a\\n' (the file name) may only contain "
        "letters, digits, '-' and '_', starting with a letter or digit",
    )
    assert not (project / "out").exists()


def test_an_environments_path_that_is_a_file(project: Path) -> None:
    (project / "not-a-directory").write_text("x\n", encoding="utf-8")
    (project / "nginxgen.yaml").write_text("environments: not-a-directory\n", encoding="utf-8")
    assert_one_error(
        run("validate"),
        "not-a-directory:1:1: the environments directory is not a directory",
    )


# --- nginxgen new -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["shop\n", "--domain", "x.example.com", "--service", "app:3000"],
            "nginxgen: environment name 'shop\\n' may only contain letters, digits, '-' and '_', "
            "starting with a letter or digit",
        ),
        (
            ["shop", "--domain", "x.example.com\n", "--service", "app:3000"],
            "nginxgen: environments/shop.yaml not written: --domain (domains[0]): "
            "'x.example.com\\n' is not "
            "a valid domain "
            "name (letters, digits and '-' in dot-separated labels, optionally starting with "
            "'*.')",
        ),
        (
            ["shop", "--domain", "x.example.com", "--service", "app:3000\n"],
            "nginxgen: --service 'app:3000\\n': expected HOST:PORT, e.g. app-shop:3000",
        ),
    ],
    ids=["name", "domain", "service"],
)
def test_new_refuses_a_trailing_newline(project: Path, arguments: list[str], message: str) -> None:
    assert_one_error(run("new", *arguments), message)
    assert sorted(path.name for path in (project / "environments").iterdir()) == ["good.yaml"]


# --- writing the output -----------------------------------------------------------------------


def test_render_onto_a_directory_is_exit_2_naming_it(project: Path) -> None:
    (project / "out" / "nginx-ssl.conf").mkdir(parents=True)
    assert_one_error(run("render"), "nginxgen: cannot write out/nginx-ssl.conf: it is a directory")


def test_render_below_a_file_is_exit_2_naming_it(project: Path) -> None:
    (project / "out").write_text("x\n", encoding="utf-8")
    assert_one_error(
        run("render"), "nginxgen: cannot write out/nginx-ssl.conf: out is not a directory"
    )
    assert (project / "out").read_text(encoding="utf-8") == "x\n"


@pytest.mark.parametrize(
    "error",
    [OSError(28, "No space left on device"), OSError(30, "Read-only file system")],
    ids=["disk-full", "read-only"],
)
def test_render_on_a_failing_disk_is_exit_2_and_keeps_the_old_output(
    project: Path, monkeypatch: pytest.MonkeyPatch, error: OSError
) -> None:
    output = project / "out" / "nginx-ssl.conf"
    output.parent.mkdir()
    output.write_text("old\n", encoding="utf-8")

    def fail(*arguments: object) -> int:
        raise error

    monkeypatch.setattr(os, "write", fail)
    assert_one_error(run("render"), f"nginxgen: cannot write out/nginx-ssl.conf: {error.strerror}")
    monkeypatch.undo()
    assert output.read_text(encoding="utf-8") == "old\n"
    assert [path.name for path in output.parent.iterdir()] == ["nginx-ssl.conf"]


# --- an existing output that is not what it seems ---------------------------------------------


def rendered(project: Path) -> bytes:
    assert run("render").exit_code == 0
    return (project / "out" / "nginx-ssl.conf").read_bytes()


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        (lambda text: text.replace(b"\n", b"\r\n"), "has CRLF (Windows) line endings"),
        (lambda text: text + b"\xff\n", "is not UTF-8 text"),
    ],
    ids=["crlf", "not-utf8"],
)
def test_an_output_that_differs_invisibly_is_stale_and_replaced(
    project: Path, spoil: object, reason: str
) -> None:
    good = rendered(project)
    output = project / "out" / "nginx-ssl.conf"
    output.write_bytes(spoil(good))  # type: ignore[operator]

    check = run("render", "--check")
    assert check.exit_code == 1, check.stderr
    assert check.stdout == (
        f"out/nginx-ssl.conf {reason}: stale; run `nginxgen render` to replace it\n"
    )
    assert run("render").exit_code == 0
    assert output.read_bytes() == good


def test_an_unreadable_output_is_stale_and_replaced(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = rendered(project)
    output = project / "out" / "nginx-ssl.conf"
    real_read_bytes = Path.read_bytes

    def unreadable(self: Path) -> bytes:
        if self.name == "nginx-ssl.conf":
            raise PermissionError(13, "Permission denied")
        return real_read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", unreadable)
    check = run("render", "--check")
    assert check.exit_code == 1, check.stderr
    assert "cannot be read (Permission denied): stale" in check.stdout
    output.write_text("old\n", encoding="utf-8")
    assert run("render").exit_code == 0
    monkeypatch.undo()
    assert output.read_bytes() == good


# --- messages ---------------------------------------------------------------------------------


def test_a_problem_is_always_one_line() -> None:
    problem = Problem("env\n.yaml", 1, 2, "a\rb", "value 'x\u2028y\x1b[2J\u202e' é")
    assert str(problem) == "env\\n.yaml:1:2: a\\rb: value 'x\\u2028y\\x1b[2J\\u202e' é"
    assert str(ConfigError([problem])).count("\n") == 0


def copy_case(case: Path, destination: Path) -> None:
    shutil.copytree(case, destination, symlinks=True, ignore=shutil.ignore_patterns("expected.*"))


@pytest.mark.parametrize("case", ERROR_CASES, ids=lambda case: case.name)
def test_validate_json_is_valid_json_for_every_error_case(
    case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_case(case, tmp_path / "project")
    monkeypatch.chdir(tmp_path / "project")
    result = run("validate", "--format", "json")
    assert result.exit_code == 2, result.stderr
    report = json.loads(result.stdout)
    assert report["valid"] is False
    problems = [Problem(**problem) for problem in report["problems"]]
    expected = (case / "expected.txt").read_text(encoding="utf-8")
    assert "".join(f"{problem}\n" for problem in problems) == expected
    assert all(set(dataclasses.asdict(problem)) == set(problem_keys) for problem in problems)


problem_keys = ("file", "line", "column", "field", "message")


# --- the classes of issue 20.8 and the messages of 20.9, through the CLI --------------------


def test_new_with_a_300_character_name_is_exit_2_and_writes_nothing(project: Path) -> None:
    name = "a" * 300
    assert_one_error(
        run("new", name, "--domain", "x.example.com", "--service", "app:3000"),
        f"nginxgen: environment name {name[:20]!r}... is longer than 64 characters",
    )
    assert sorted(path.name for path in (project / "environments").iterdir()) == ["good.yaml"]


def test_new_names_the_option_not_the_file_it_did_not_write(project: Path) -> None:
    result = run("new", "shop", "--domain", "good.example.com", "--service", "app:3000")
    assert_one_error(
        result,
        "nginxgen: environments/shop.yaml not written: --domain (domains[0]): domain "
        "'good.example.com' is also served by environment 'good' (environments/good.yaml:1)",
    )


def test_lint_stdin_never_reads_a_host_file_it_includes(tmp_path: Path) -> None:
    secret = tmp_path / "secret.conf"
    secret.write_text("this is not nginx syntax {{{\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["lint", "-"], input=f"http {{ include {secret}; }}\n")
    assert result.exit_code == 1, result.output
    assert "NGX010" in result.output and "not nginx syntax" not in result.output


def test_raw_repeating_the_default_compression_is_a_located_exit_2(project: Path) -> None:
    (project / "environments" / "good.yaml").write_text(
        GOOD + 'raw: ["gzip on", "charset utf-8"]\n', encoding="utf-8"
    )
    assert_one_error(
        run("render"),
        "environments/good.yaml:6:7: raw[0]: gzip is generated here already (nginx refuses most "
        "directives given twice in one block): set it through nginxgen's key for it, or turn "
        "that feature off, instead of raw",
    )
    assert not (project / "out").exists()


@pytest.mark.parametrize(
    "path", ["/etc/ssl/x/..", "/etc/ssl/./x.pem", "/etc/ssl//x.pem", "/etc/ssl/x/", "etc/x.pem"]
)
def test_a_certificate_path_in_another_spelling_is_a_located_exit_2(
    project: Path, path: str
) -> None:
    (project / "environments" / "good.yaml").write_text(
        GOOD + f"tls: {{certificate: {path!r}, certificate_key: /etc/ssl/x.key}}\n",
        encoding="utf-8",
    )
    for command in (["validate"], ["check", "--engine", "local"]):
        result = run(*command)
        assert result.exit_code == 2, result.output
        assert "environments/good.yaml:6:" in result.stderr and "tls.certificate" in result.stderr


def test_a_certificate_path_that_nginx_needs_as_a_directory_is_a_located_exit_2(
    project: Path,
) -> None:
    (project / "environments" / "good.yaml").write_text(
        GOOD + "tls: {certificate: /etc/nginx, certificate_key: /etc/nginx/conf.d}\n",
        encoding="utf-8",
    )
    result = run("validate")
    assert result.exit_code == 2, result.output
    assert "tls.certificate: '/etc/nginx' must name a file" in result.stderr
    assert "tls.certificate_key: '/etc/nginx/conf.d' must name a file" in result.stderr


def test_an_unknown_key_suggests_the_field_it_resembles(project: Path) -> None:
    (project / "environments" / "good.yaml").write_text(
        GOOD.replace("service: app}", "service: app, websockets: true}"), encoding="utf-8"
    )
    result = run("validate")
    assert result.exit_code == 2
    assert "routes[0].websockets: unknown field; did you mean `websocket`?" in result.stderr


def test_the_docker_advice_fits_the_docker_host() -> None:
    over_ssh = unreachable_advice("ssh://deploy@proxy.example.com")
    assert "Start the Docker daemon" not in over_ssh
    assert "`ssh deploy@proxy.example.com docker info`" in over_ssh
    assert "`ssh -p 2222 deploy@127.0.0.1 docker info`" in unreachable_advice(
        "ssh://deploy@127.0.0.1:2222"
    )
    assert "Start the Docker daemon" in unreachable_advice("")
