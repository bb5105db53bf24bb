"""Golden files: every case folder under tests/cases/ rendered, byte for byte.

A case is `tests/cases/<name>/` holding `environments/*.yaml`, optionally `nginxgen.yaml`, and
`expected.conf`. Folders without `environments/` (lint/, errors/) belong to other tests.
Regenerate with `pytest --update-goldens`, then read the diff before committing it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from nginxgen.cli import app
from nginxgen.generation.fields import StrictModel
from nginxgen.generation.loader import load_environments, load_settings
from nginxgen.generation.models import Environment, Settings
from nginxgen.generation.pipeline import generate
from nginxgen.generation.plan import build_plan
from nginxgen.generation.render import render

TESTS = Path(__file__).resolve().parent
REPOSITORY = TESTS.parent
CASES = TESTS / "cases"
GOLDEN_CASES = sorted(path for path in CASES.iterdir() if (path / "environments").is_dir())


def settings_of(case: Path) -> Settings:
    settings_file = case / "nginxgen.yaml"
    return load_settings(settings_file) if settings_file.is_file() else Settings()


def rendered(case: Path) -> str:
    return generate(case / "environments", settings_of(case)).text


def test_the_golden_cases_are_found() -> None:
    # A glob that silently matched nothing would make every golden test vanish, not fail.
    names = {case.name for case in GOLDEN_CASES}
    assert {"shipped", "http-only", "mixed-environments", "every-key"} <= names
    assert "errors" not in names
    assert "lint" not in names


@pytest.mark.parametrize("case", GOLDEN_CASES, ids=lambda case: case.name)
def test_golden_through_the_library(case: Path, update_goldens: bool) -> None:
    expected = case / "expected.conf"
    text = rendered(case)
    if update_goldens:
        expected.write_text(text, encoding="utf-8", newline="\n")
    assert expected.is_file(), f"{expected} missing: run pytest --update-goldens"
    assert text == expected.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", GOLDEN_CASES, ids=lambda case: case.name)
def test_golden_through_the_cli(
    case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, update_goldens: bool
) -> None:
    project = tmp_path / "project"
    shutil.copytree(case, project, ignore=shutil.ignore_patterns("expected.*"))
    monkeypatch.chdir(project)

    result = CliRunner().invoke(app, ["render"])

    assert result.exit_code == 0, result.stderr
    written = project / settings_of(case).output
    if not update_goldens:
        assert written.read_bytes() == (case / "expected.conf").read_bytes()
    check = CliRunner().invoke(app, ["render", "--check"])
    assert check.exit_code == 0, check.stdout
    assert "up to date" in check.stdout


@pytest.mark.parametrize("case", GOLDEN_CASES, ids=lambda case: case.name)
def test_rendering_twice_gives_the_same_bytes(case: Path) -> None:
    settings = settings_of(case)
    first = render(build_plan(load_environments(case / "environments"), settings))
    second = render(build_plan(load_environments(case / "environments"), settings))
    assert first.encode() == second.encode()


@pytest.mark.parametrize("case", GOLDEN_CASES, ids=lambda case: case.name)
def test_output_does_not_depend_on_the_order_files_are_listed(case: Path) -> None:
    environments = load_environments(case / "environments")
    settings = settings_of(case)
    forwards = render(build_plan(environments, settings))
    backwards = render(build_plan(list(reversed(environments)), settings))
    assert forwards == backwards


@pytest.mark.parametrize("case", GOLDEN_CASES, ids=lambda case: case.name)
def test_golden_is_a_plain_conf_d_fragment(case: Path) -> None:
    # Other test suites feed every expected.conf to nginx -t and the linter as a conf.d file.
    text = (case / "expected.conf").read_text(encoding="utf-8")
    assert text.endswith("\n")
    assert "\r" not in text
    assert "\t" not in text
    assert not any(line != line.rstrip() for line in text.splitlines())
    assert "{{" not in text and "{%" not in text


def test_shipped_case_mirrors_the_repository_environments() -> None:
    repository_files = sorted((REPOSITORY / "environments").glob("*.y*ml"))
    case_files = sorted((CASES / "shipped" / "environments").glob("*.y*ml"))
    assert [path.name for path in case_files] == [path.name for path in repository_files]
    for ours, theirs in zip(case_files, repository_files, strict=True):
        assert ours.read_text(encoding="utf-8") == theirs.read_text(encoding="utf-8"), (
            f"copy {theirs} to {ours} and run pytest --update-goldens"
        )
    settings = REPOSITORY / "nginxgen.yaml"
    if settings.is_file():
        ours = CASES / "shipped" / "nginxgen.yaml"
        assert ours.read_text(encoding="utf-8") == settings.read_text(encoding="utf-8")


def test_committed_output_matches_the_repository_environments() -> None:
    settings = (
        load_settings(REPOSITORY / "nginxgen.yaml")
        if (REPOSITORY / "nginxgen.yaml").is_file()
        else Settings()
    )
    text = generate(REPOSITORY / "environments", settings).text
    assert text == (REPOSITORY / "out" / "nginx-ssl.conf").read_text(encoding="utf-8"), (
        "out/nginx-ssl.conf is stale: run `nginxgen render`"
    )


def _models_in(annotation: object) -> list[type[StrictModel]]:
    if isinstance(annotation, type) and issubclass(annotation, StrictModel):
        return [annotation]
    arguments = getattr(annotation, "__args__", ())
    return [model for argument in arguments for model in _models_in(argument)]


def _keys(model: type[StrictModel], prefix: str = "") -> set[str]:
    """Every dotted key an environment file can hold, through nested models, lists and dicts."""
    keys = set()
    for name, field in model.model_fields.items():
        keys.add(f"{prefix}{name}")
        for nested in _models_in(field.annotation):
            keys |= _keys(nested, f"{prefix}{name}.")
    return keys


def _used_keys(model: type[StrictModel], data: object, prefix: str = "") -> set[str]:
    """The dotted keys a parsed YAML value sets, skipping names the user chose (services)."""
    if isinstance(data, list):
        return {key for item in data for key in _used_keys(model, item, prefix)}
    if not isinstance(data, dict):
        return set()
    if not set(data) <= set(model.model_fields):
        # A mapping of user-chosen names to models, such as `services`.
        return {key for item in data.values() for key in _used_keys(model, item, prefix)}
    keys = set()
    for name, value in data.items():
        keys.add(f"{prefix}{name}")
        for nested in _models_in(model.model_fields[name].annotation):
            keys |= _used_keys(nested, value, f"{prefix}{name}.")
    return keys


def test_the_golden_cases_use_every_key_of_the_environment_file() -> None:
    used: set[str] = set()
    for case in GOLDEN_CASES:
        for path in (case / "environments").glob("*.y*ml"):
            used |= _used_keys(Environment, yaml.safe_load(path.read_text(encoding="utf-8")))
    missing = sorted(_keys(Environment) - used)
    assert not missing, f"no golden case sets these keys: {missing}"
