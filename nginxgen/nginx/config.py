"""Read nginx configuration into a tree of directives, following `include`s.

Three kinds of input end up as the same tree: a full `nginx.conf`, a `conf.d` fragment whose top
level is http context, and the text of an `nginx -T` dump (or any config) given as a string.
crossplane only parses files, so text is written to a temporary tree first; every position is
reported with the name the user knows (the dump's original paths, not the temporary ones).

Includes are followed here rather than by crossplane so that a missing file becomes a finding
instead of a parse error, and so that a dump's absolute paths stay inside its temporary tree.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from glob import has_magic
from pathlib import Path, PurePosixPath
from typing import Any

import crossplane

from nginxgen.core.errors import NginxgenError
from nginxgen.core.facts import NGINX_PREFIX

# nginx looks for relative include paths under its configuration prefix; the official Docker
# images use /etc/nginx, and repositories mount their nginx/ directory there.
CONF_PREFIX = NGINX_PREFIX + "/"

# Files every nginx package ships; a config under review rarely carries its own copy.
STOCK_INCLUDES = frozenset(
    {
        "mime.types",
        "fastcgi_params",
        "fastcgi.conf",
        "uwsgi_params",
        "scgi_params",
        "proxy_params",
        "koi-utf",
        "koi-win",
        "win-utf",
    }
)

MAIN_ONLY_BLOCKS = frozenset({"http", "events", "stream", "mail"})

DUMP_MARKER = re.compile(r"^# configuration file (?P<path>.+):[ \t]*$", re.MULTILINE)


class ConfigParseError(NginxgenError):
    """The input is not nginx syntax crossplane can read: `file:line: message` per problem."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        super().__init__("\n".join(messages))


@dataclass(frozen=True)
class Directive:
    """One directive where the user wrote it; `block` is None for simple directives.

    An `include` keeps its place in the tree with the directives it pulled in as `block`;
    `include_missing` says nginx would fail to open the file.
    """

    name: str
    args: tuple[str, ...]
    file: str
    line: int
    column: int
    block: tuple[Directive, ...] | None = None
    include_missing: bool = False


@dataclass(frozen=True)
class ParsedConfig:
    """One configuration root: its top-level directives and the context they live in."""

    name: str
    context: str  # "main" for a full nginx.conf, "http" for a conf.d fragment
    directives: tuple[Directive, ...]
    files: tuple[str, ...]


@dataclass
class _Source:
    """Where files are read from and how their names are shown."""

    main_display: str
    main_real: Path
    # Relative include paths are looked up here: nginx's prefix is the main file's directory.
    include_base: Path
    # A dump's files live under `root` at their original absolute paths.
    root: Path | None = None
    files: list[str] = field(default_factory=list)

    def display(self, real: Path) -> str:
        if self.root is not None:
            return "/" + real.relative_to(self.root).as_posix()
        if real == self.main_real:
            return self.main_display
        return real.as_posix()

    def include_targets(self, pattern: str) -> list[Path]:
        """The files an `include` pattern opens, in nginx's (sorted) order."""
        if self.root is not None:
            original = PurePosixPath(self.main_display).parent / pattern
            return _expand(self.root / str(original).lstrip("/"))
        base = self.include_base
        if pattern.startswith(CONF_PREFIX):
            # A repository's nginx/ directory is what the container sees as /etc/nginx.
            mounted = _expand(base / pattern.removeprefix(CONF_PREFIX))
            if mounted:
                return mounted
        return _expand(Path(pattern) if Path(pattern).is_absolute() else base / pattern)


def _expand(pattern: Path) -> list[Path]:
    if not has_magic(str(pattern)):
        return [pattern] if pattern.is_file() else []
    anchor = Path(pattern.anchor) if pattern.is_absolute() else Path()
    relative = pattern.relative_to(anchor).as_posix() if pattern.is_absolute() else str(pattern)
    # nginx's glob, like the shell's, skips hidden files.
    return sorted(
        path for path in anchor.glob(relative) if path.is_file() and not path.name.startswith(".")
    )


def load_path(path: Path) -> ParsedConfig:
    """Parse a config file on disk and everything it includes."""
    if not path.is_file():
        raise ConfigParseError([f"{path}: cannot read: no such file"])
    return _load(_Source(main_display=str(path), main_real=path, include_base=path.parent))


def load_text(text: str, name: str) -> ParsedConfig:
    """Parse config text (a file's content or an `nginx -T` dump) named `name` in findings."""
    with tempfile.TemporaryDirectory(prefix="nginxgen-lint-") as temporary:
        root = Path(temporary)
        sections = split_dump(text)
        if not sections:
            main = root / "config" / "nginx.conf"
            main.parent.mkdir(parents=True)
            main.write_text(text, encoding="utf-8")
            source = _Source(main_display=name, main_real=main, include_base=Path.cwd())
            return _load(source, rename={main: name})
        for original, content in sections:
            real = root / original.lstrip("/")
            real.parent.mkdir(parents=True, exist_ok=True)
            real.write_text(content, encoding="utf-8")
        main_original = sections[0][0]
        main_real = root / main_original.lstrip("/")
        source = _Source(
            main_display=main_original,
            main_real=main_real,
            include_base=main_real.parent,
            root=root,
        )
        return _load(source)


def split_dump(text: str) -> list[tuple[str, str]]:
    """The files of an `nginx -T` dump as (absolute path, content); empty if it is not one."""
    markers = list(DUMP_MARKER.finditer(text))
    sections = []
    for index, marker in enumerate(markers):
        start = marker.end() + 1  # the content starts on the line after the marker
        end = markers[index + 1].start() if index + 1 < len(markers) else len(text)
        path = marker.group("path").strip()
        if not path.startswith("/"):
            path = CONF_PREFIX + path
        sections.append((path, text[start:end]))
    return sections


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Parsing allocates hundreds of thousands of objects and no cycles; Python's cyclic
    collector would walk them over and over (a third of the time of a 100,000-line file)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _load(source: _Source, rename: dict[Path, str] | None = None) -> ParsedConfig:
    loader = _Loader(source, rename or {})
    with _collector_paused():
        top = loader.parse_file(source.main_real)
        context = "main" if any(d["directive"] in MAIN_ONLY_BLOCKS for d in top) else "http"
        directives = tuple(loader.build(top, source.main_real, stack=(source.main_real,)))
    if loader.errors:
        raise ConfigParseError(loader.errors)
    return ParsedConfig(
        name=loader.display(source.main_real),
        context=context,
        directives=directives,
        files=tuple(dict.fromkeys(loader.displayed)),
    )


class _Loader:
    def __init__(self, source: _Source, rename: dict[Path, str]) -> None:
        self.source = source
        self.rename = rename
        self.errors: list[str] = []
        self.displayed: list[str] = []
        self._parsed: dict[Path, list[dict[str, Any]]] = {}
        self._lines: dict[Path, list[str]] = {}

    def display(self, real: Path) -> str:
        return self.rename.get(real) or self.source.display(real)

    def parse_file(self, real: Path) -> list[dict[str, Any]]:
        if real in self._parsed:
            return self._parsed[real]
        self.displayed.append(self.display(real))
        try:
            text = real.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            self.errors.append(f"{self.display(real)}: cannot read: {error}")
            self._parsed[real] = []
            return []
        self._lines[real] = text.splitlines()
        # Context checks are off: a conf.d fragment or an included file has no `http` around
        # it when parsed alone, and misplaced directives are `nginx -t`'s job, not the linter's.
        payload = crossplane.parse(
            str(real), single=True, check_ctx=False, comments=False, onerror=lambda e: e
        )
        for problem in payload["errors"]:
            exception = problem.get("callback")
            message = getattr(exception, "strerror", None) or str(exception or problem["error"])
            line = problem.get("line")
            where = f"{self.display(real)}:{line}" if line else self.display(real)
            self.errors.append(f"{where}: {message}")
        parsed: list[dict[str, Any]] = payload["config"][0]["parsed"] if payload["config"] else []
        self._parsed[real] = parsed
        return parsed

    def build(
        self, statements: list[dict[str, Any]], real: Path, stack: tuple[Path, ...]
    ) -> Iterator[Directive]:
        seen_on_line: dict[tuple[int, str], int] = {}
        for statement in statements:
            name: str = statement["directive"]
            line: int = statement["line"]
            occurrence = seen_on_line.get((line, name), 0)
            seen_on_line[(line, name)] = occurrence + 1
            column = self._column(real, line, name, occurrence)
            args = tuple(statement["args"])
            block: tuple[Directive, ...] | None = None
            missing = False
            if name == "include" and args:
                block, missing = self._include(args[0], stack)
            elif "block" in statement:
                block = tuple(self.build(statement["block"], real, stack))
            yield Directive(
                name=name,
                args=args,
                file=self.display(real),
                line=line,
                column=column,
                block=block,
                include_missing=missing,
            )

    def _include(self, pattern: str, stack: tuple[Path, ...]) -> tuple[tuple[Directive, ...], bool]:
        targets = self.source.include_targets(pattern)
        if not targets:
            # A glob matching nothing is fine for nginx; a named file that is not there is not.
            stock = PurePosixPath(pattern).name in STOCK_INCLUDES
            return (), not has_magic(pattern) and not stock
        included: list[Directive] = []
        for target in targets:
            if target in stack:
                continue
            included.extend(self.build(self.parse_file(target), target, (*stack, target)))
        return tuple(included), False

    def _column(self, real: Path, line: int, name: str, occurrence: int) -> int:
        lines = self._lines.get(real, [])
        if not 0 < line <= len(lines):
            return 1
        text = _strip_comment(lines[line - 1])
        if occurrence == 0:
            # The usual line: indentation, then the directive (what the pattern finds first).
            body = text.lstrip()
            after = body[len(name) : len(name) + 1]
            if body.startswith(name) and (not after or after.isspace() or after in ";{"):
                return len(text) - len(body) + 1
        matches = list(_directive_pattern(name).finditer(text))
        if occurrence < len(matches):
            return matches[occurrence].start() + 1
        return 1


@functools.lru_cache(maxsize=1024)
def _directive_pattern(name: str) -> re.Pattern[str]:
    """Where directive `name` starts on a line; compiled once per name (large files repeat)."""
    return re.compile(rf"(?:^|(?<=[\s;{{}}])){re.escape(name)}(?=[\s;{{]|$)")


def _strip_comment(line: str) -> str:
    if "#" not in line:
        return line
    quote = ""
    for index, character in enumerate(line):
        if quote:
            if character == quote:
                quote = ""
        elif character in "\"'":
            quote = character
        elif character == "#" and (index == 0 or line[index - 1] in " \t;{}"):
            return line[:index]
    return line
