"""generation/scaffold.py: the text of `nginxgen new`, valid alone and beside the existing
environments; nothing written (the command writes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nginxgen.core.errors import ConfigError, UsageError
from nginxgen.generation.loader import validate
from nginxgen.generation.models import Environment, Settings
from nginxgen.generation.scaffold import environment_text, new_environment, parse_service


def test_a_service_is_host_colon_port() -> None:
    assert parse_service("app-shop:3000") == ("app-shop", 3000)
    for bad in ("app", "app:", ":3000", "app:3000:1", "app: 3000", "app:123456"):
        with pytest.raises(UsageError, match="expected HOST:PORT"):
            parse_service(bad)


def test_the_text_is_a_valid_environment_of_one_service_and_route() -> None:
    text = environment_text("shop", ["shop.test", "www.shop.test"], "app-shop", 3000)
    assert text.startswith("# Environment 'shop': one file per environment")
    model, _ = validate(Environment, text, "shop.yaml")
    assert model.domains == ["shop.test", "www.shop.test"]
    assert (model.services["app"].host, model.services["app"].port) == ("app-shop", 3000)
    assert [(route.path, route.service) for route in model.routes] == [("/", "app")]


def test_a_new_environment_is_checked_beside_the_others_and_not_written(tmp_path: Path) -> None:
    path, text = new_environment("shop", ["shop.test"], "app:3000", tmp_path, Settings())
    assert path == tmp_path / "shop.yaml" and not path.exists()
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError, match="shop.yaml already exists; edit it instead"):
        new_environment("shop", ["other.test"], "app:3000", tmp_path, Settings())
    with pytest.raises(ConfigError, match="shop.test"):
        new_environment("blog", ["shop.test"], "blog:80", tmp_path, Settings())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shop.yaml"]


def test_a_bad_name_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="may only contain letters, digits"):
        new_environment("../shop", ["shop.test"], "app:3000", Path(), Settings())
