"""nginx/config.py: nginx configuration read into directives (files, dumps, includes) and walked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile_fixtures import MAIN, private_temporary_directory

from nginxgen.lint.engine import LintOptions, lint_text
from nginxgen.nginx.config import (
    ConfigParseError,
    Directive,
    children,
    flatten,
    load_text,
    split_dump,
    walk,
)


@pytest.fixture
def private_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    yield from private_temporary_directory(tmp_path, monkeypatch)


@pytest.mark.parametrize(
    ("marker", "problem"),
    [
        ("/../../escaped.conf", "leaves the dump's root directory"),
        ("../../../../escaped.conf", "leaves the dump's root directory"),
        ("/etc/nginx/../../../escaped.conf", "leaves the dump's root directory"),
        ("   ", "is empty"),
        ("", "is empty"),
        ("/etc/nginx/a\0b.conf", "holds a NUL character"),
        ("/", "names the root directory, not a file"),
        ("/etc/nginx/nginx.conf/inner.conf", "is both a file and a directory in this dump"),
        ("/etc", "is both a file and a directory in this dump"),
    ],
)
def test_a_dump_marker_that_escapes_or_collides_is_a_located_error(
    marker: str, problem: str, tmp_path: Path, private_temp: Path
) -> None:
    dump = MAIN + f"# configuration file {marker}:\nserver {{ listen 80; }}\n"
    try:
        with pytest.raises(ConfigParseError) as raised:
            load_text(dump, "<stdin>", dump=True)
        assert str(raised.value) == f"<stdin>:4: configuration file {marker.strip()!r} {problem}"
        assert "\n" not in str(raised.value)
    finally:
        assert not (tmp_path / "escaped.conf").exists()
        assert not Path("/escaped.conf").exists()


def test_dump_paths_are_normalised_inside_the_root(private_temp: Path) -> None:
    dump = (
        "# configuration file /etc/nginx/./nginx.conf:\nhttp { include conf.d/*.conf; }\n"
        "# configuration file /etc/nginx/sites/../conf.d//app.conf:\n"
        "upstream app { server app:3000; }\n"
    )
    assert [path for path, _ in split_dump(dump)] == [
        "/etc/nginx/nginx.conf",
        "/etc/nginx/conf.d/app.conf",
    ]
    result = lint_text(dump, "<stdin>", LintOptions(select=frozenset({"NGX001"})), dump=True)
    assert [f"{f.file}:{f.line}" for f in result.findings] == ["/etc/nginx/conf.d/app.conf:1"]


def test_generated_text_is_never_read_as_a_dump(tmp_path: Path, private_temp: Path) -> None:
    escaped = tmp_path / "escaped.conf"
    text = (
        'server {\n    listen 80;\n    add_header X "a\n'
        f"# configuration file /../../../..{escaped}:\n"
        'server { listen 1; }\n";\n}\n'
    )
    config = load_text(text, "nginx-ssl.conf", dump=False)
    assert config.files == ("nginx-ssl.conf",)
    assert [d.name for d in walk(config.directives)] == ["server", "listen", "add_header"]
    assert not escaped.exists()


def _directive(name: str, block: tuple[Directive, ...] | None = None) -> Directive:
    return Directive(name=name, args=(), file="f", line=1, column=1, block=block)


def test_walk_flatten_and_children_agree_on_includes() -> None:
    include = _directive("include", (_directive("set"), _directive("location", ())))
    server = _directive("server", (_directive("listen"), include))
    assert [d.name for d in walk([server])] == ["server", "listen", "include", "set", "location"]
    assert [d.name for d in children(server)] == ["listen", "set", "location"]
    assert [d.name for d in flatten([include])] == ["set", "location"]
    missing = Directive("include", ("gone.conf",), "f", 2, 1, include_missing=True)
    assert [d.name for d in flatten([missing, include])] == ["set", "location"]
    assert [d.name for d in flatten([missing, include], keep_missing=True)] == [
        "include",
        "set",
        "location",
    ]
