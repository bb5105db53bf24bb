"""crossplane's nginx lexer, token for token, but fast: regex runs instead of a char generator.

crossplane lexes one character at a time through three stacked generators, which made it most
of the self-check of a large output (1,000 environments: ~1.3 s of ~1.8 s). `tokens` yields
exactly what `crossplane.lexer._lex_file_object` yields, quirks included (a token cut short by
the end of the file is dropped; whitespace after `${…}` joins the token), and
`tests/test_nginx_lexer.py` compares the two on the lint corpus and on random text. Text that
names a directive with an external lexer (crossplane's Lua blocks) is left to crossplane.
"""

from __future__ import annotations

import re
import types
from bisect import bisect_left
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import crossplane
import crossplane.lexer
import crossplane.parser

Token = tuple[str, int, bool]

_SPACE = re.compile(r"\s+")
# Inside a token: units (a backslash and the character it escapes, or one character) that are
# appended as they are; a run stops at whitespace, `{`, `}`, `;`, or a backslash at the end.
_PLAIN = re.compile(r"(?:\\[\s\S]|[^\s{};\\])*")
# Inside `${…}`: units until one ends with `}`, or whitespace.
_BRACED = re.compile(r"(?:\\[^}]|[^}\s\\])*")
_QUOTED = {quote: re.compile(rf"(?:\\[\s\S]|[^\\{quote}])*") for quote in "\"'"}
_ESCAPE = re.compile(r"\\([\s\S])")
# The common case in one match: whitespace, then `{`, `}`, `;`, or a plain token (no escapes,
# not starting with a quote or `#`) ended by whitespace, `;`, `}` or a `{` not opening `${`.
# Anything else (comments, quotes, escapes, `${`, the end of the text) takes `_step`.
_SIMPLE = re.compile(r"(\s*)(?:([{};])|([^\s{};\\\"'#][^\s{};\\]*)(?=[\s;}]|(?<!\$)\{))")


class _End(Exception):
    """crossplane's lexer stops where its character stream runs out mid-token."""


def _unquote(content: str, quote: str) -> str:
    if "\\" not in content:
        return content
    return _ESCAPE.sub(lambda match: quote if match.group(1) == quote else match.group(0), content)


def tokens(text: str) -> list[Token]:
    """(token, line, quoted) for `text`, as crossplane's lexer yields them."""
    newlines = [match.start() for match in re.finditer("\n", text)]
    found: list[Token] = []
    append = found.append
    simple = _SIMPLE.match

    def line(end: int) -> int:
        """The line crossplane reports for the unit ending before `end`: 1 + newlines up to it."""
        return 1 + bisect_left(newlines, end)

    size = len(text)
    position = 0
    current = 1  # the line at `position`
    try:
        while position < size:
            match = simple(text, position)
            if match is not None:
                space, special, bare = match.groups()
                if space:
                    current += space.count("\n")
                append((special or bare, current, False))
                position = match.end()
                continue
            position = _step(text, position, found, line)
            current = line(position)
    except _End:
        pass
    return found


def _step(text: str, position: int, found: list[Token], line: Callable[[int], int]) -> int:
    """Lex what starts at `position` the long way; returns where lexing goes on."""
    size = len(text)
    character = text[position]
    if character.isspace():
        return _SPACE.match(text, position).end()  # type: ignore[union-attr]
    if character == "#":
        newline = text.find("\n", position)
        if newline < 0:
            raise _End
        comment = text[position:newline]
        backslashes = len(comment) - len(comment.rstrip("\\"))
        # An escaped newline is one unit: its backslash is not part of the comment.
        end = newline - 1 if backslashes % 2 else newline
        found.append((text[position:end], line(position + 1), False))
        return newline + 1
    if character in "\"'":
        match = _QUOTED[character].match(text, position + 1)
        close = match.end()  # type: ignore[union-attr]
        if close >= size or text[close] != character:
            raise _End
        content = _unquote(match.group(), character)  # type: ignore[union-attr]
        found.append((content, line(position + 1), True))
        return close + 1
    if character in "{};":
        found.append((character, line(position + 1), False))
        return position + 1
    if character == "\\" and position + 1 >= size:
        raise _End
    # A token's line is that of its first unit, which may be an escaped newline.
    first_unit_end = position + 2 if character == "\\" else position + 1
    return _bare_token(text, position, line(first_unit_end), found, line)


def _bare_token(
    text: str, start: int, token_line: int, found: list[Token], line: Callable[[int], int]
) -> int:
    """Lex the unquoted token at `start`; returns where lexing goes on."""
    size = len(text)
    position = start
    while True:
        position = _PLAIN.match(text, position).end()  # type: ignore[union-attr]
        if position >= size or text[position] == "\\":
            raise _End
        character = text[position]
        if character.isspace():
            found.append((text[start:position], token_line, False))
            return position
        if character != "{" or text[position - 1] != "$" or position == start:
            found.append((text[start:position], token_line, False))
            found.append((character, line(position + 1), False))
            return position + 1
        # `${…}` keeps its braces in the token.
        position = _BRACED.match(text, position + 1).end()  # type: ignore[union-attr]
        if position >= size:
            raise _End
        if text[position] == "}":
            position += 1
        elif text[position] == "\\":
            if position + 1 >= size:
                raise _End
            position += 2  # `\}`
        # The unit after the braces is taken as it comes, whitespace too.
        if position >= size:
            raise _End
        character = text[position]
        if character in "{};":
            found.append((text[start:position], token_line, False))
            found.append((character, line(position + 1), False))
            return position + 1
        if character == "\\":
            if position + 1 >= size:
                raise _End
            position += 2
        else:
            position += 1


def _lex(filename: str) -> Iterator[Token]:
    """A drop-in for `crossplane.lexer.lex`: same file reading, same brace errors, lazily."""
    with Path(filename).open(encoding="utf-8", errors="replace") as file:
        text = file.read()
    if any(directive in text for directive in crossplane.lexer.EXTERNAL_LEXERS):
        yield from crossplane.lexer.lex(filename)
        return
    yield from crossplane.lexer._balance_braces(iter(tokens(text)), filename)


# crossplane's own parser with this lexer: a copy of `crossplane.parse` whose global `lex` is
# the one above, so the parser's behaviour and errors stay crossplane's and nothing is patched.
_parse_function = crossplane.parser.parse
parse: Callable[..., dict[str, Any]] = types.FunctionType(
    _parse_function.__code__,
    {**vars(crossplane.parser), "lex": _lex},
    _parse_function.__name__,
    _parse_function.__defaults__,
    _parse_function.__closure__,
)
parse.__kwdefaults__ = _parse_function.__kwdefaults__
