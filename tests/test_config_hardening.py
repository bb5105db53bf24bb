"""Hostile configurations: dumps that try to write or read outside their directory, includes
that multiply or wander, binary input. Each is an exit-2 error or a finding, never a crash, a
hang or a file written outside nginxgen's private temporary directory."""

from __future__ import annotations

import glob
import re
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import crossplane
import pytest
from hostile_fixtures import MAIN, private_temporary_directory
from typer.testing import CliRunner

from nginxgen.cli import app
from nginxgen.core.formats import Severity
from nginxgen.lint.engine import LintOptions, lint_paths, lint_text
from nginxgen.nginx import config as config_module
from nginxgen.nginx.certificates import CertSeverity
from nginxgen.nginx.config import (
    ConfigParseError,
)

runner = CliRunner()


@pytest.fixture
def private_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    yield from private_temporary_directory(tmp_path, monkeypatch)


def test_lint_stdin_with_an_escaping_marker_exits_2_and_writes_nothing(
    tmp_path: Path, private_temp: Path
) -> None:
    dump = MAIN + "# configuration file /../../escaped.conf:\nupstream x { server y:1; }\n"
    result = runner.invoke(app, ["lint", "-"], input=dump)
    assert result.exit_code == 2
    assert result.stderr == (
        "nginxgen: <stdin>:4: configuration file '/../../escaped.conf' leaves the dump's "
        "root directory\n"
    )
    assert not (tmp_path / "escaped.conf").exists()


def test_an_include_in_a_dump_never_reads_outside_the_dump(
    tmp_path: Path, private_temp: Path
) -> None:
    secret = tmp_path / "secret.conf"
    secret.write_text("upstream leaked { server leaked.example:80; }\n")
    climbing = "../" * 12 + str(secret).lstrip("/")
    dump = (
        "# configuration file /etc/nginx/nginx.conf:\n"
        f"http {{ include {climbing}; include {secret}; include {tmp_path}/*.conf; }}\n"
    )
    result = lint_text(dump, "<stdin>", LintOptions(), dump=True)
    assert result.files == ("/etc/nginx/nginx.conf",)
    assert not [finding for finding in result.findings if "leaked" in finding.message]
    # Named files that are not in the dump are missing, as they were on the dumped machine.
    assert [finding.code for finding in result.findings] == ["NGX010", "NGX010"]


def test_binary_stdin_exits_2_with_a_message() -> None:
    result = runner.invoke(app, ["lint", "-"], input=b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x00")
    assert result.exit_code == 2
    assert re.fullmatch(
        r"nginxgen: <stdin>: cannot read: not UTF-8 text \(byte \d+: .*\)\n", result.stderr
    )


# --- includes that multiply or wander ------------------------------------------------------------


def test_a_file_included_twice_at_22_levels_is_an_error_not_a_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[str] = []
    original = crossplane.parse

    def counting_parse(path: str, **options: Any) -> Any:
        parsed.append(path)
        return original(path, **options)

    monkeypatch.setattr(crossplane, "parse", counting_parse)
    for level in range(22):
        (tmp_path / f"level{level}.conf").write_text(
            f"include level{level + 1}.conf;\ninclude level{level + 1}.conf;\n"
        )
    (tmp_path / "level22.conf").write_text("add_header X y;\n")
    with pytest.raises(ConfigParseError) as raised:
        lint_paths([tmp_path / "level0.conf"], LintOptions())
    message = str(raised.value)
    assert re.fullmatch(
        rf"{re.escape(str(tmp_path))}/level\d+\.conf:2: include takes the configuration past "
        r"500000 directives \(a file included over and over\?\)",
        message,
    )
    assert len(parsed) == len(set(parsed)), "a file was parsed more than once"


def test_a_file_included_twice_at_a_few_levels_is_linted_once_per_copy(tmp_path: Path) -> None:
    for level in range(4):
        (tmp_path / f"level{level}.conf").write_text(
            f"include level{level + 1}.conf;\ninclude level{level + 1}.conf;\n"
        )
    (tmp_path / "level4.conf").write_text("upstream app { server app:80; }\n")
    result = lint_paths([tmp_path / "level0.conf"], LintOptions(select=frozenset({"NGX001"})))
    # Findings are per place in the files: 16 copies of one line are one finding.
    assert [(f.file, f.line) for f in result.findings] == [(f"{tmp_path}/level4.conf", 1)]


def test_files_including_a_glob_of_each_other_are_read_once_each(tmp_path: Path) -> None:
    names = [f"part{index}.conf" for index in range(9)]
    for index, name in enumerate(names):
        (tmp_path / name).write_text(f"include part*.conf;\nadd_header X-{index} y;\n")
    result = lint_paths([tmp_path], LintOptions())
    assert result.findings == ()
    assert result.files == tuple(str(tmp_path / name) for name in names)


def test_glob_double_star_is_one_level_as_in_nginx(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "one.conf").write_text("upstream one { server one:80; }\n")
    (tmp_path / "a" / "b" / "two.conf").write_text("upstream two { server two:80; }\n")
    (tmp_path / "main.conf").write_text("include **/*.conf;\n")
    result = lint_paths([tmp_path / "main.conf"], LintOptions(select=frozenset({"NGX001"})))
    assert [finding.message.split('"')[1] for finding in result.findings] == ["one"]


def test_a_glob_from_the_root_is_named_not_walked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    walked: list[str] = []

    def recording_glob(pattern: str) -> list[str]:
        walked.append(pattern)
        return []

    monkeypatch.setattr(glob, "glob", recording_glob)
    (tmp_path / "main.conf").write_text("server { include /**/x; include /proc/*/status; }\n")
    result = lint_paths([tmp_path / "main.conf"], LintOptions())
    assert walked == []
    assert [(f.code, f.line, f.column) for f in result.findings] == [
        ("NGX013", 1, 10),
        ("NGX013", 1, 25),
    ]
    assert not result.failed


@pytest.mark.parametrize("depth", [150, 10_000])
def test_deeply_nested_blocks_are_an_error(depth: int, tmp_path: Path) -> None:
    (tmp_path / "deep.conf").write_text("if ($a) {" * depth + "}" * depth + "\n")
    result = runner.invoke(app, ["lint", str(tmp_path / "deep.conf")])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "nested" in result.stderr


def test_an_include_loop_ends(tmp_path: Path) -> None:
    (tmp_path / "a.conf").write_text("include b.conf;\nupstream a { server a:80; }\n")
    (tmp_path / "b.conf").write_text("include a.conf;\n")
    result = lint_paths([tmp_path / "a.conf"], LintOptions(select=frozenset({"NGX001"})))
    assert len(result.findings) == 1


# --- the one walker ----------------------------------------------------------------------------


def test_no_other_module_walks_the_tree_itself() -> None:
    package = Path(config_module.__file__).resolve().parent.parent
    walkers = re.compile(r"def (_?walk|_all|flatten|children)\(")
    found = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if walkers.search(path.read_text()) and path.name != "config.py"
    ]
    assert found == []


def test_certificate_findings_grade_with_the_one_severity_vocabulary() -> None:
    assert set(typing.get_args(CertSeverity)) == {severity.value for severity in Severity}
