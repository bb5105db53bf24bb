"""Raw directives: anything crossplane would read differently from nginx is refused, one line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nginxgen.nginx.directives import MAX_WORD_BYTES, check_raw_directive

PACKAGE = Path(__file__).resolve().parent.parent / "nginxgen"


@pytest.mark.parametrize(
    "text",
    [
        'add_header X "a\n# configuration file /../../tmp/x:\n"',
        'add_header X "a\rb"',
        "gzip\non",
        "gzip\u00a0on",
        "gzip\x0bon",
        "gzip\x0con",
        "add_header X a\x1cb",
        'add_header X "a\u2028b"',
        'add_header X "a\u2029b"',
        "gzip\ton",
        "add_header X a\x00b",
        "add_header X a\x7fb",
        "add_header X a\u0085b",
        "add_header X a\u202eb",
        "add_header X a\u200bb",
        "gzip\u3000on",
    ],
    ids=repr,
)
def test_line_breaks_control_and_unusual_whitespace_are_refused(text: str) -> None:
    with pytest.raises(ValueError) as raised:
        check_raw_directive(text, "location")
    message = str(raised.value)
    assert re.search(r"character U\+[0-9A-F]{4} .* is not allowed", message)
    assert message.isprintable(), "the message must be one printable line"


@pytest.mark.parametrize(
    "text",
    ['add_header X-Name "café"', "gzip on", 'add_header X "a b"', "add_header X '100%'"],
)
def test_printable_text_and_plain_spaces_pass(text: str) -> None:
    assert check_raw_directive(text, "location") == text


@pytest.mark.parametrize("text", ["gzip %s", "gzip %d%%", "add_header %s"])
def test_a_percent_sign_is_an_error_not_a_crash(text: str) -> None:
    with pytest.raises(ValueError) as raised:
        check_raw_directive(text, "location")
    assert text in str(raised.value)
    assert "\x00" not in str(raised.value)


@pytest.mark.parametrize(
    ("word", "accepted"),
    [
        ("a" * MAX_WORD_BYTES, True),
        ("a" * (MAX_WORD_BYTES + 1), False),
        ('"' + "a" * (MAX_WORD_BYTES - 1) + '"', True),
        ('"' + "a" * MAX_WORD_BYTES + '"', False),
        ("é" * (MAX_WORD_BYTES // 2 + 1), False),  # bytes count, not characters
    ],
    ids=["unquoted-at-limit", "unquoted-over", "quoted-at-limit", "quoted-over", "utf8-over"],
)
def test_words_longer_than_nginx_reads_are_refused(word: str, accepted: bool) -> None:
    text = f"add_header X {word}"
    if accepted:
        assert check_raw_directive(text, "location") == text
    else:
        with pytest.raises(ValueError, match=r"longer than nginx reads \(409[45] bytes"):
            check_raw_directive(text, "location")


def test_crossplane_private_lexer_is_imported_in_one_module_only() -> None:
    importers = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "crossplane.lexer" in path.read_text(encoding="utf-8")
    ]
    assert importers == ["nginx/directives.py"]
