"""generation/pipeline.py: load → plan → render → self-check as one call."""

from __future__ import annotations

from pathlib import Path

import pytest

from nginxgen.core.errors import ConfigError, Problem
from nginxgen.core.markers import environment_line, find_requirement
from nginxgen.generation.models import Settings
from nginxgen.generation.pipeline import generate, generate_from
from nginxgen.generation.render import render

SHOP = """\
domains: [shop.test]
services:
  app: {host: app, port: 3000}
routes:
  - {path: /, service: app}
"""


def test_generate_renders_the_plan_of_every_environment(tmp_path: Path) -> None:
    (tmp_path / "shop.yaml").write_text(SHOP, encoding="utf-8")
    (tmp_path / "blog.yml").write_text(SHOP.replace("shop", "blog"), encoding="utf-8")
    generated = generate(tmp_path, Settings(nginx_version="1.26"))
    assert [environment.name for environment in generated.environments] == ["blog", "shop"]
    assert generated.text == render(generated.plan)
    requirement = find_requirement(generated.text)
    assert requirement is not None and requirement.target == "1.26"
    assert environment_line("shop", "shop.yaml") in generated.text.splitlines()


def test_problems_found_while_loading_are_reported_with_the_plans(tmp_path: Path) -> None:
    (tmp_path / "shop.yaml").write_text(SHOP, encoding="utf-8")
    (tmp_path / "bad.yaml").write_text("domains: [\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        generate(tmp_path, Settings())
    assert [problem.file.endswith("bad.yaml") for problem in raised.value.problems] == [True]
    loading = Problem("x.yaml", 1, 1, "", "broken")
    with pytest.raises(ConfigError) as again:
        generate_from([], Settings(), [loading])
    assert loading in again.value.problems


def test_a_raw_directive_repeating_a_generated_one_is_refused(tmp_path: Path) -> None:
    (tmp_path / "shop.yaml").write_text(SHOP + 'raw: ["gzip on"]\n', encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        generate(tmp_path, Settings())
    (problem,) = raised.value.problems
    assert (problem.line, problem.field) == (6, "raw[0]")
    assert problem.message.startswith("gzip is generated here already")
