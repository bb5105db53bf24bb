"""nginx_lexer yields exactly crossplane's tokens, and parses to exactly crossplane's payload."""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import crossplane
import crossplane.lexer
import pytest

from nginxgen import nginx_lexer

CASES = Path(__file__).resolve().parent / "cases"
CONFIGS = sorted(path for path in CASES.rglob("*") if path.suffix in {".conf", ".txt"})

TRICKY = [
    "",
    "a",
    "a;",
    "a b;\n",
    "# only a comment",
    "# comment\n",
    "a; # trailing\nb;\n",
    "a#b c;\n",
    'set $a "x;y" \'z\\\'w\' "q\\"r";\n',
    'a "unterminated',
    "a\\",
    "a \\\n b;\n",
    "# escaped newline \\\nnext;\n",
    "# two backslashes \\\\\nnext;\n",
    "return 301 https://${host}$request_uri;\n",
    "a ${x} b;\n",
    "a ${x y} c;\n",
    "a ${x}{ b; }\n",
    "a ${x}",
    "a ${x",
    "a ${x\\}y} z;\n",
    "a $${b};\n",
    "\\{ a; }\n",
    'a"b" c;\n',
    '"a"b;\n',
    "location ~ ^/(a|b)\\.php$ { try_files $uri =404; }\n",
    'if ($http_x ~* "(a|b)") { return 403; }\n',
    "a\r\nb;\r\n",
    "a\tb\x0bc\x1cd;\n",
    "}{;;\n",
    "a ' multi\nline ' b;\n",
]


def crossplane_tokens(text: str) -> list[tuple[str, int, bool]]:
    return list(crossplane.lexer._lex_file_object(io.StringIO(text)))


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_text_lexes_like_crossplane(text: str) -> None:
    assert nginx_lexer.tokens(text) == crossplane_tokens(text)


def test_random_text_lexes_like_crossplane() -> None:
    alphabet = ["a", "b", "$", "{", "}", ";", "#", "\\", '"', "'", " ", "\n", "\t", "${", "\\\n"]
    generator = random.Random(20260601)
    for _ in range(3000):
        text = "".join(generator.choice(alphabet) for _ in range(generator.randint(0, 40)))
        assert nginx_lexer.tokens(text) == crossplane_tokens(text), repr(text)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: str(path.relative_to(CASES)))
def test_case_configs_parse_like_crossplane(path: Path) -> None:
    options: dict[str, Any] = {"single": True, "check_ctx": False, "comments": False}
    text = path.read_text(encoding="utf-8", errors="replace")
    assert nginx_lexer.tokens(text) == crossplane_tokens(text)
    assert nginx_lexer.parse(str(path), **options) == crossplane.parse(str(path), **options)


def test_unbalanced_braces_are_crossplane_errors(tmp_path: Path) -> None:
    for text in ("a { b;\n", "a; }\n", "a { b { c; }\n"):
        path = tmp_path / "broken.conf"
        path.write_text(text, encoding="utf-8")
        assert nginx_lexer.parse(str(path), single=True) == crossplane.parse(str(path), single=True)


def test_external_lexer_directives_are_left_to_crossplane(tmp_path: Path) -> None:
    path = tmp_path / "lua.conf"
    path.write_text("content_by_lua_block { ngx.say('}') }\n", encoding="utf-8")
    assert nginx_lexer.parse(str(path), single=True) == crossplane.parse(str(path), single=True)
