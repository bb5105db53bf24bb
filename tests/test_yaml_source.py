"""generation/yaml_source.py: YAML parsed with the position of every value."""

from __future__ import annotations

import pytest
import yaml

from nginxgen.generation.yaml_source import dotted


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ((), ""),
        (("domains",), "domains"),
        (("domains", 1), "domains[1]"),
        (("services", "app", "port"), "services.app.port"),
        (("routes", 0, "path"), "routes[0].path"),
    ],
)
def test_dotted(path: tuple[str | int, ...], expected: str) -> None:
    assert dotted(path) == expected


def test_libyaml_and_pure_python_parsers_give_the_same_values_and_positions() -> None:
    """The fast path (libyaml) must locate every value exactly where the pure-Python one does."""
    from nginxgen.generation import yaml_source

    if not hasattr(yaml, "CSafeLoader"):
        pytest.fail("PyYAML was built without libyaml; the fast path is not exercised")
    text = (
        "# comment\n"
        "domains: [a.example, 'b.example']\n"
        "tls:\n"
        "  certificate: /c.pem\n"
        "  certificate_key: /k.pem\n"
        "services:\n"
        "  app: {host: app, port: 3000}\n"
        "  web:\n"
        "    host: web\n"
        "    port: 8080\n"
        "routes:\n"
        "  - {path: /, service: app}\n"
        "  - path: /ws/\n"
        "    service: web\n"
        "    websocket: true\n"
    )
    fast_data, fast_source = yaml_source._parse_with(yaml.CSafeLoader, text, "x.yaml")
    slow_data, slow_source = yaml_source._parse_with(yaml.SafeLoader, text, "x.yaml")
    assert fast_data == slow_data
    assert fast_source.positions == slow_source.positions
    assert fast_source.key_positions == slow_source.key_positions


def test_libyaml_parses_where_pyyaml_has_it() -> None:
    # The fast parser was once looked up where PyYAML does not export it, and every file fell
    # back to the pure-Python parser, four times slower, with no test noticing.
    import yaml

    from nginxgen.generation import yaml_source

    assert yaml.__with_libyaml__
    assert yaml_source._LOADERS[0] is not yaml_source._PureLoader
