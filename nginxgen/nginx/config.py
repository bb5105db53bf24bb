"""Read nginx configuration into a tree of directives, following `include`s.

Three kinds of input end up as the same tree: a full `nginx.conf`, a `conf.d` fragment whose top
level is http context, and config text given as a string: one plain file, or, only when the
caller says so, an `nginx -T` dump. crossplane only parses files, so text is written to a private
temporary tree first (always removed); every position is reported with the name the user knows
(the dump's original paths, not the temporary ones).

Includes are followed here rather than by crossplane so that a missing file becomes a finding
instead of a parse error, so that a dump's files stay inside its temporary tree, and so that each
file is parsed once however often it is included. Walking the tree is defined here, once.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import glob
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, TextIO, TypeVar

import crossplane

from nginxgen.core.errors import NginxgenError, printable
from nginxgen.core.facts import NGINX_PREFIX
from nginxgen.core.files import not_a_file

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

DUMP_MARKER = re.compile(r"^# configuration file (?P<path>.*?):[ \t]*$", re.MULTILINE)

# Includes multiply: a file included twice at each of 22 levels is four million copies. Real
# configurations stay far below these; past them the input is an accident or an attack.
MAX_DIRECTIVES = 500_000
MAX_DEPTH = 100

S = TypeVar("S")


class ConfigParseError(NginxgenError):
    """The input is not nginx syntax crossplane can read: `file:line: message` per problem."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        super().__init__("\n".join(messages))

    def __str__(self) -> str:
        return "\n".join(printable(message) for message in self.messages)


def read_stdin(stdin: TextIO) -> str:
    """Config text from standard input (an `nginx -T` dump), strictly UTF-8: the bytes are
    decoded here, not by the stream, whose error handler may smuggle undecodable bytes through
    as surrogates (Python does so under a C locale)."""
    buffer = getattr(stdin, "buffer", None)
    try:
        if buffer is not None:
            return bytes(buffer.read()).decode("utf-8")
        return stdin.read().encode("utf-8").decode("utf-8")
    except UnicodeError as error:
        start = getattr(error, "start", 0)
        reason = getattr(error, "reason", str(error))
        raise ConfigParseError(
            [f"<stdin>: cannot read: not UTF-8 text (byte {start}: {reason})"]
        ) from None


@dataclass(frozen=True)
class Directive:
    """One directive where the user wrote it; `block` is None for simple directives.

    An `include` keeps its place in the tree with the directives it pulled in as `block`;
    `include_missing` says nginx would fail to open the file; `include_outside` says a glob
    reaches outside the configuration's own directory, so it was not followed.
    """

    name: str
    args: tuple[str, ...]
    file: str
    line: int
    column: int
    block: tuple[Directive, ...] | None = None
    include_missing: bool = False
    include_outside: bool = False


@dataclass(frozen=True)
class ParsedConfig:
    """One configuration root: its top-level directives and the context they live in."""

    name: str
    context: str  # "main" for a full nginx.conf, "http" for a conf.d fragment
    directives: tuple[Directive, ...]
    files: tuple[str, ...]


# --- walking the tree: the one definition ------------------------------------------------------


def walk_scoped(
    directives: Iterable[Directive], scope: S, enter: Callable[[Directive, S], S]
) -> Iterator[tuple[Directive, S]]:
    """Every directive, depth first in file order, with the scope `enter` gives its block.

    An `include` is yielded, then what it pulled in, in the include's own scope: includes are
    transparent to scope, as they are to nginx.
    """
    for directive in directives:
        yield directive, scope
        if directive.block is None:
            continue
        inner = scope if directive.name == "include" else enter(directive, scope)
        yield from walk_scoped(directive.block, inner, enter)


def walk(directives: Iterable[Directive]) -> Iterator[Directive]:
    """Every directive at every depth, includes and what they pulled in."""
    for directive, _ in walk_scoped(directives, None, _same_scope):
        yield directive


def _same_scope(directive: Directive, scope: None) -> None:
    return scope


def flatten(directives: Iterable[Directive], *, keep_missing: bool = False) -> Iterator[Directive]:
    """Directives of one level with `include`s replaced by what they include; with
    `keep_missing`, an include of a missing file stays in their place."""
    for directive in directives:
        if directive.name != "include":
            yield directive
        elif directive.block:
            yield from flatten(directive.block, keep_missing=keep_missing)
        elif keep_missing and directive.include_missing:
            yield directive


def children(block: Directive, *, keep_missing: bool = False) -> Iterator[Directive]:
    """A block's own directives with `include`s replaced by what they include."""
    return flatten(block.block or (), keep_missing=keep_missing)


# --- where files come from ---------------------------------------------------------------------


@dataclass
class _Source:
    """Where files are read from and how their names are shown."""

    main_display: str
    main_real: Path
    # Relative include paths are looked up here: nginx's prefix is the main file's directory.
    include_base: Path
    # A dump's files live under `root` at their original absolute paths.
    root: Path | None = None
    follow_includes: bool = True
    strict: bool = True
    files: list[str] = field(default_factory=list)

    def display(self, real: Path) -> str:
        if self.root is not None:
            return "/" + real.relative_to(self.root).as_posix()
        if real == self.main_real:
            return self.main_display
        return real.as_posix()

    def include_targets(self, pattern: str) -> list[Path] | None:
        """The files an `include` pattern opens, in nginx's (sorted) order.

        None: a glob outside the configuration's own directory, which is not walked.
        """
        if "\0" in pattern:
            return []
        if self.root is not None:
            original = _normalised(str(PurePosixPath(self.main_display).parent / pattern))
            if original is None:
                return []  # above the dump's root: not in the dump
            return _expand(self.root / original.relative_to("/"))
        base = self.include_base
        if pattern.startswith(CONF_PREFIX):
            # A repository's nginx/ directory is what the container sees as /etc/nginx.
            mounted = _expand(base / pattern.removeprefix(CONF_PREFIX))
            if mounted:
                return mounted
        target = Path(pattern) if Path(pattern).is_absolute() else base / pattern
        if glob.has_magic(pattern) and not _within(_fixed_part(target), base):
            return None if _fixed_part(target).is_dir() else []
        return _expand(target)


def _fixed_part(pattern: Path) -> Path:
    """The directory a glob starts from: its components before the first wildcard."""
    fixed = Path(pattern.anchor)
    for part in pattern.relative_to(pattern.anchor).parts[:-1]:
        if glob.has_magic(part):
            break
        fixed /= part
    return fixed


def _within(path: Path, directory: Path) -> bool:
    return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(directory))


def _expand(pattern: Path) -> list[Path]:
    # nginx's glob(3) reads `**` as `*` (one level, never recursive) and skips hidden files, as
    # glob.glob does; Path.glob would walk `**` through the whole tree (and /proc).
    text = str(pattern)
    try:
        if not glob.has_magic(text):
            return [pattern] if pattern.is_file() else []
        matches = glob.glob(text)  # noqa: PTH207
        return sorted(Path(path) for path in matches if Path(path).is_file())
    except (OSError, ValueError):
        return []


def _normalised(path: str) -> PurePosixPath | None:
    """`path` with `.` and `..` resolved as text, absolute; None if it climbs above `/`."""
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(part)
    return PurePosixPath("/", *parts)


# --- the entry points --------------------------------------------------------------------------


def load_path(path: Path) -> ParsedConfig:
    """Parse a config file on disk and everything it includes."""
    if not path.is_file():
        raise ConfigParseError([f"{path}: cannot read: {not_a_file(path)}"])
    return _load(_Source(main_display=str(path), main_real=path, include_base=path.parent))


def load_text(text: str, name: str, *, dump: bool) -> ParsedConfig:
    """Parse config text named `name` in findings.

    `dump=False`: the text is one plain file, whatever its comments say (generated output is
    always read this way). `dump=True`: an `nginx -T` dump, split into its files when it has
    `# configuration file` markers; every file stays inside a private temporary directory.
    """
    sections = dump_sections(text, name) if dump else []
    with tempfile.TemporaryDirectory(prefix="nginxgen-lint-") as temporary:
        root = Path(temporary)
        if not sections:
            main = root / "nginx.conf"
            main.write_text(text, encoding="utf-8")
            # Text has no directory of its own: its includes resolve in an empty tree (so they
            # are reported missing), never on this machine's disk.
            empty = root / "included"
            empty.mkdir()
            source = _Source(main_display=name, main_real=main, include_base=empty, root=empty)
            return _load(source, rename={main: name})
        for section in sections:
            real = root / section.path.relative_to("/")
            try:
                real.parent.mkdir(parents=True, exist_ok=True)
                real.write_text(section.content, encoding="utf-8")
            except (OSError, ValueError) as error:
                reason = getattr(error, "strerror", None) or str(error)
                raise ConfigParseError(
                    [f"{name}:{section.line}: cannot keep {str(section.path)!r}: {reason}"]
                ) from None
        main_real = root / sections[0].path.relative_to("/")
        source = _Source(
            main_display=str(sections[0].path),
            main_real=main_real,
            include_base=main_real.parent,
            root=root,
        )
        return _load(source)


def load_fragment(text: str) -> tuple[Directive, ...]:
    """The directives of one conf.d fragment, leniently: no includes, syntax errors ignored
    (whoever needs them reported runs `nginx -t`)."""
    with tempfile.TemporaryDirectory(prefix="nginxgen-parse-") as temporary:
        main = Path(temporary) / "fragment.conf"
        main.write_text(text, encoding="utf-8")
        source = _Source(
            main_display="fragment.conf",
            main_real=main,
            include_base=Path(temporary),
            follow_includes=False,
            strict=False,
        )
        return _load(source).directives


@dataclass(frozen=True)
class DumpSection:
    """One file of an `nginx -T` dump: its normalised absolute path, marker line and content."""

    path: PurePosixPath
    line: int
    content: str


def split_dump(text: str, name: str = "<stdin>") -> list[tuple[str, str]]:
    """The files of an `nginx -T` dump as (normalised absolute path, content); empty if it is
    not one. Errors as `dump_sections`."""
    return [(str(section.path), section.content) for section in dump_sections(text, name)]


def dump_sections(text: str, name: str = "<stdin>") -> list[DumpSection]:
    """The files of an `nginx -T` dump; empty if it is not one.

    Every path is normalised and must stay under the dump's root; an empty path, a NUL, a path
    above `/` or a file that another one needs as its directory is a `name:line` error.
    """
    markers = list(DUMP_MARKER.finditer(text))
    sections: list[DumpSection] = []
    files: set[PurePosixPath] = set()
    directories: set[PurePosixPath] = set()
    errors: list[str] = []
    for index, marker in enumerate(markers):
        line = text.count("\n", 0, marker.start()) + 1
        start = marker.end() + 1  # the content starts on the line after the marker
        end = markers[index + 1].start() if index + 1 < len(markers) else len(text)
        written = marker.group("path").strip()
        problem, path = _dump_path(written)
        if path is not None and path in files:
            continue  # the same file dumped twice: the first copy is the one nginx read
        if path is not None and (path in directories or any(p in files for p in path.parents)):
            problem = "is both a file and a directory in this dump"
        if problem or path is None:
            errors.append(f"{name}:{line}: configuration file {written!r} {problem}")
            continue
        files.add(path)
        directories.update(path.parents)
        sections.append(DumpSection(path, line, text[start:end]))
    if errors:
        raise ConfigParseError(errors)
    return sections


def _dump_path(written: str) -> tuple[str, PurePosixPath | None]:
    if not written:
        return "is empty", None
    if "\0" in written:
        return "holds a NUL character", None
    path = _normalised(written if written.startswith("/") else CONF_PREFIX + written)
    if path is None:
        return "leaves the dump's root directory", None
    if path == PurePosixPath("/"):
        return "names the root directory, not a file", None
    return "", path


# --- parsing and building ----------------------------------------------------------------------


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


class _TooLarge(Exception):
    """Raised at the directive where the configuration grows past a limit."""


def _load(source: _Source, rename: dict[Path, str] | None = None) -> ParsedConfig:
    loader = _Loader(source, rename or {})
    with _collector_paused():
        top = loader.parse_file(source.main_real)
        context = "main" if any(d["directive"] in MAIN_ONLY_BLOCKS for d in top) else "http"
        try:
            directives, _ = loader.file_tree(source.main_real, depth=0)
        except _TooLarge as error:
            raise ConfigParseError([str(error)]) from None
    if loader.errors and source.strict:
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
        # Built once per real file: (directives, how many directives they expand to).
        self._trees: dict[str, tuple[tuple[Directive, ...], int]] = {}
        self._building: set[str] = set()

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
        try:
            payload = crossplane.parse(
                str(real),
                single=True,
                check_ctx=False,
                check_args=self.source.strict,
                comments=False,
                onerror=lambda e: e,
            )
        except RecursionError:
            self.errors.append(f"{self.display(real)}: blocks nested too deeply to read")
            self._parsed[real] = []
            return []
        for problem in payload["errors"]:
            exception = problem.get("callback")
            message = getattr(exception, "strerror", None) or str(exception or problem["error"])
            line = problem.get("line")
            where = f"{self.display(real)}:{line}" if line else self.display(real)
            self.errors.append(f"{where}: {message}")
        parsed: list[dict[str, Any]] = payload["config"][0]["parsed"] if payload["config"] else []
        self._parsed[real] = parsed
        return parsed

    def file_tree(self, real: Path, depth: int) -> tuple[tuple[Directive, ...], int]:
        """A file's directives, built once however often it is included, and their count."""
        key = os.path.realpath(real)
        if key not in self._trees:
            self._building.add(key)
            self._trees[key] = self.build(self.parse_file(real), real, depth)
            self._building.discard(key)
        return self._trees[key]

    def build(
        self, statements: list[dict[str, Any]], real: Path, depth: int
    ) -> tuple[tuple[Directive, ...], int]:
        seen_on_line: dict[tuple[int, str], int] = {}
        built: list[Directive] = []
        size = 0
        for statement in statements:
            name: str = statement["directive"]
            line: int = statement["line"]
            where = f"{self.display(real)}:{line}"
            if depth > MAX_DEPTH:
                raise _TooLarge(f"{where}: blocks and includes nested more than {MAX_DEPTH} deep")
            occurrence = seen_on_line.get((line, name), 0)
            seen_on_line[(line, name)] = occurrence + 1
            column = self._column(real, line, name, occurrence)
            args = tuple(statement["args"])
            block: tuple[Directive, ...] | None = None
            missing = outside = False
            inner = 0
            if name == "include" and args and self.source.follow_includes:
                block, inner, missing, outside = self._include(args[0], depth)
            elif "block" in statement:
                block, inner = self.build(statement["block"], real, depth + 1)
            size += 1 + inner
            if size > MAX_DIRECTIVES:
                raise _TooLarge(
                    f"{where}: {name} takes the configuration past {MAX_DIRECTIVES} directives "
                    f"(a file included over and over?)"
                )
            built.append(
                Directive(
                    name=name,
                    args=args,
                    file=self.display(real),
                    line=line,
                    column=column,
                    block=block,
                    include_missing=missing,
                    include_outside=outside,
                )
            )
        return tuple(built), size

    def _include(self, pattern: str, depth: int) -> tuple[tuple[Directive, ...], int, bool, bool]:
        """(directives, their count, missing, outside the configuration's directory)."""
        targets = self.source.include_targets(pattern)
        if targets is None:
            return (), 0, False, True
        if not targets:
            # A glob matching nothing is fine for nginx; a named file that is not there is not.
            stock = PurePosixPath(pattern).name in STOCK_INCLUDES
            return (), 0, not glob.has_magic(pattern) and not stock, False
        included: list[Directive] = []
        size = 0
        for target in targets:
            if os.path.realpath(target) in self._building:
                continue  # an include loop: nginx would never finish reading it
            directives, count = self.file_tree(target, depth + 1)
            included.extend(directives)
            size += count
        return tuple(included), size, False, False

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
