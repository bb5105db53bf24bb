"""YAML → models: every problem located at file:line:column with its dotted field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from nginxgen.core.errors import ConfigError, Problem
from nginxgen.generation.loader import display_path, load_environments, load_settings, validate
from nginxgen.generation.models import Environment, Settings
from nginxgen.generation.yaml_source import parse_yaml

VALID = """\
domains: [example.test]
services:
  app: {host: app, port: 3000}
routes:
  - {path: /, service: app}
"""


def problems(text: str, file: str = "env.yaml") -> list[tuple[int, int, str]]:
    """(line, column, field) of every problem the text has, in report order."""
    with pytest.raises(ConfigError) as caught:
        validate(Environment, textwrap.dedent(text), file)
    assert all(problem.file == file for problem in caught.value.problems)
    return [(p.line, p.column, p.field) for p in caught.value.problems]


def only_problem(text: str) -> Problem:
    with pytest.raises(ConfigError) as caught:
        validate(Environment, textwrap.dedent(text), "env.yaml")
    assert len(caught.value.problems) == 1, caught.value.problems
    return caught.value.problems[0]


def test_a_valid_file_loads() -> None:
    model, source = validate(Environment, VALID, "env.yaml")
    assert model.services["app"].port == 3000
    assert source.file == "env.yaml"


def test_positions_are_recorded_for_block_and_flow_values() -> None:
    _, source = parse_yaml(VALID, "env.yaml")
    assert source.positions[("domains", 0)] == (1, 11)
    assert source.positions[("services", "app", "port")] == (3, 26)
    assert source.positions[("routes", 0, "service")] == (5, 24)
    assert source.key_positions[("services", "app")] == (3, 3)


# Each: a file with one mistake → (line, column, field) of the one problem reported.
LOCATED = {
    "invalid domain in a block list": (
        """\
        domains:
          - example.test
          - bad_domain.test
        services: {app: {host: app, port: 3000}}
        routes: [{path: /, service: app}]
        """,
        (3, 5, "domains[1]"),
    ),
    "invalid host": (
        """\
        domains: [example.test]
        services:
          app:
            host: "app:3000"
            port: 3000
        routes: [{path: /, service: app}]
        """,
        (4, 11, "services.app.host"),
    ),
    "port out of range in a flow mapping": (
        """\
        domains: [example.test]
        services:
          app: {host: app, port: 70000}
        routes: [{path: /, service: app}]
        """,
        (3, 26, "services.app.port"),
    ),
    "port as a string": (
        """\
        domains: [example.test]
        services:
          app:
            host: app
            port: "3000"
        routes: [{path: /, service: app}]
        """,
        (5, 11, "services.app.port"),
    ),
    "path without a slash": (
        """\
        domains: [example.test]
        services: {app: {host: app, port: 3000}}
        routes:
          - {path: /, service: app}
          - path: api/
            service: app
        """,
        (5, 11, "routes[1].path"),
    ),
    "path with a semicolon": (
        """\
        domains: [example.test]
        services: {app: {host: app, port: 3000}}
        routes:
          - {path: "/a;b", service: app}
        """,
        (4, 12, "routes[0].path"),
    ),
    "unknown key points at the key": (
        """\
        domains: [example.test]
        services: {app: {host: app, port: 3000}}
        routes:
          - path: /
            service: app
            websockets: true
        """,
        (6, 5, "routes[0].websockets"),
    ),
    "unknown top-level key": (
        """\
        domains: [example.test]
        services: {app: {host: app, port: 3000}}
        routes: [{path: /, service: app}]
        resolver: 8.8.8.8
        """,
        (4, 1, "resolver"),
    ),
    "missing key points at the parent mapping": (
        """\
        domains: [example.test]
        services:
          app:
            host: app
        routes: [{path: /, service: app}]
        """,
        (3, 3, "services.app.port"),
    ),
    "missing key in a flow mapping": (
        """\
        domains: [example.test]
        services:
          app: {host: app}
        routes: [{path: /, service: app}]
        """,
        (3, 8, "services.app.port"),
    ),
    "missing top-level key": (
        """\
        domains: [example.test]
        services: {app: {host: app, port: 3000}}
        """,
        (1, 1, "routes"),
    ),
    "only a certificate": (
        """\
        domains: [example.test]
        services: {app: {host: app, port: 3000}}
        routes: [{path: /, service: app}]
        tls:
          certificate: /etc/ssl/fullchain.pem
        """,
        (4, 1, "tls"),
    ),
    "only a certificate key, in a flow mapping": (
        """\
        domains: [example.test]
        services: {app: {host: app, port: 3000}}
        routes: [{path: /, service: app}]
        tls: {certificate_key: /etc/ssl/privkey.pem}
        """,
        (4, 6, "tls"),
    ),
    "relative certificate path": (
        """\
        domains: [example.test]
        services: {app: {host: app, port: 3000}}
        routes: [{path: /, service: app}]
        tls:
          certificate: certs/fullchain.pem
          certificate_key: /etc/ssl/privkey.pem
        """,
        (5, 16, "tls.certificate"),
    ),
    "list where a mapping is expected": (
        """\
        domains: [example.test]
        services:
          - app
        routes: [{path: /, service: app}]
        """,
        (2, 1, "services"),
    ),
    "mapping where a list is expected": (
        """\
        domains: {primary: example.test}
        services: {app: {host: app, port: 3000}}
        routes: [{path: /, service: app}]
        """,
        (1, 10, "domains"),
    ),
    "invalid service name is reported at the name": (
        """\
        domains: [example.test]
        services:
          web app: {host: app, port: 3000}
        routes: [{path: /, service: app}]
        """,
        (3, 12, "services.web app"),
    ),
    "duplicate key": (
        """\
        domains: [example.test]
        services:
          app: {host: app, port: 3000}
          app: {host: other, port: 3000}
        routes: [{path: /, service: app}]
        """,
        (4, 3, "services.app"),
    ),
    "duplicate top-level key": (
        """\
        domains: [example.test]
        services: {app: {host: app, port: 3000}}
        routes: [{path: /, service: app}]
        domains: [other.test]
        """,
        (4, 1, "domains"),
    ),
}


@pytest.mark.parametrize(("text", "where"), LOCATED.values(), ids=LOCATED.keys())
def test_each_problem_names_its_line_column_and_field(
    text: str, where: tuple[int, int, str]
) -> None:
    assert problems(text) == [where]


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    found = problems(
        """\
        domains: [example.test, "bad domain"]
        tls:
          certificate: fullchain.pem
          certificate_key: /etc/ssl/privkey.pem
        services:
          app: {host: app, port: 99999}
        routes:
          - {path: api, service: app}
          - {path: /, service: app, colour: blue}
        """
    )
    assert found == [
        (1, 25, "domains[1]"),
        (3, 16, "tls.certificate"),
        (6, 26, "services.app.port"),
        (8, 12, "routes[0].path"),
        (9, 29, "routes[1].colour"),
    ]


def test_messages_are_for_people() -> None:
    problem = only_problem(VALID.replace("port: 3000", "port: 70000"))
    assert problem.message == "must be ≤ 65535"
    assert str(problem) == "env.yaml:3:26: services.app.port: must be ≤ 65535"
    assert "Value error" not in only_problem(VALID.replace("[example.test]", "[a_b]")).message


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ("domains: [example.test\nservices: {}\n", (2, 9), "invalid YAML"),
        ("domains: [example.test]\n  services: x\n", (2, 3), "invalid YAML"),
        ("domains: 'unclosed\n", (2, 1), "invalid YAML"),
        ("domains: !!python/object:os.system x\n", (1, 10), "invalid YAML"),
        ("services:\n  ? [a, b]\n  : {host: app, port: 1}\n", (2, 5), "invalid YAML"),
        ("", (1, 1), "empty file"),
        ("# only a comment\n", (1, 1), "empty file"),
        ("- domains: [example.test]\n", (1, 1), "expected a mapping, got a list"),
        ("just text\n", (1, 1), "expected a mapping, got a str"),
    ],
)
def test_yaml_problems_are_located_like_the_others(
    text: str, where: tuple[int, int], words: str
) -> None:
    problem = only_problem(text)
    assert (problem.line, problem.column) == where
    assert problem.file == "env.yaml"
    assert words in problem.message


def test_duplicate_key_message_names_the_key() -> None:
    problem = only_problem(VALID + "routes: []\n")
    assert problem.message == "duplicate key 'routes'"


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_load_environments_reads_yaml_and_yml_sorted_by_name(tmp_path: Path) -> None:
    write(tmp_path, "staging.yml", VALID.replace("example.test", "staging.example.test"))
    write(tmp_path, "production.yaml", VALID)
    write(tmp_path, "notes.txt", "not an environment")
    loaded = load_environments(tmp_path)
    assert [environment.name for environment in loaded] == ["production", "staging"]
    assert loaded[1].model.domains == ["staging.example.test"]


def test_load_environments_reports_the_problems_of_every_file_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "environments", "b.yaml", VALID.replace("port: 3000", "port: 0"))
    write(tmp_path / "environments", "a.yaml", VALID.replace("path: /", "path: a"))
    write(tmp_path / "environments", "c.yaml", VALID)
    with pytest.raises(ConfigError) as caught:
        load_environments(Path("environments"))
    assert str(caught.value).splitlines() == [
        "environments/a.yaml:5:12: routes[0].path: 'a' must start with '/'",
        "environments/b.yaml:3:26: services.app.port: must be ≥ 1",
    ]


def test_a_missing_environments_directory_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="environments directory not found"):
        load_environments(tmp_path / "nowhere")


def test_an_environments_directory_without_files_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no environment files"):
        load_environments(tmp_path)


def test_a_file_that_is_not_utf8_is_an_input_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "staging.yaml").write_bytes(b"domains: [caf\xe9.test]\n")
    with pytest.raises(ConfigError) as caught:
        load_environments(Path("environments"))
    assert str(caught.value) == "environments/staging.yaml:1:14: not UTF-8 text"


def test_settings_default_when_there_is_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_settings(None) == Settings()


def test_settings_are_read_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "nginxgen.yaml", "resolver_valid: 30s\n")
    assert load_settings(None).resolver_valid == "30s"


def test_an_empty_settings_file_means_the_defaults(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, "nginxgen.yaml", "")) == Settings()


def test_a_named_settings_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="settings file not found"):
        load_settings(tmp_path / "missing.yaml")


def test_settings_problems_are_located(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "nginxgen.yaml", "resolver_valid: 10 seconds\noutput_file: x\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(None)
    assert [(p.file, p.line, p.column, p.field) for p in caught.value.problems] == [
        ("nginxgen.yaml", 1, 17, "resolver_valid"),
        ("nginxgen.yaml", 2, 1, "output_file"),
    ]


def test_display_path_is_relative_below_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert display_path(tmp_path / "environments" / "a.yaml") == "environments/a.yaml"
    assert display_path(Path("environments/a.yaml")) == "environments/a.yaml"
    outside = tmp_path.parent / "elsewhere.yaml"
    assert display_path(outside) == str(outside)
