"""YAML files → models, keeping where every value came from.

This is the only module that turns YAML errors and pydantic `ValidationError`s into user-facing
`Problem`s: each names the file, line, column and dotted field path, and all of them are
collected before anything is raised.

Every file is read as hostile: it must be a regular file of bounded size (never a FIFO that
blocks a read), and YAML is read by the rules of YAML 1.2's core schema: `true`/`false` are the
only booleans, numbers are plain decimal (or `0o`/`0x`) numbers, and everything else — `on`,
`no`, `1:30`, dates — is a string. Tags that build other types (`!!binary`, `!!set`,
`!!timestamp`, Python objects) are errors, and nesting, alias expansion and integer size are
capped so that no file makes a command hang or crash.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from nginxgen.core.errors import ConfigError, Problem
from nginxgen.generation.fields import PATTERN_MEANINGS
from nginxgen.generation.models import Environment, Settings

FieldPath = tuple[str | int, ...]
ModelT = TypeVar("ModelT", bound=BaseModel)

SETTINGS_FILE = "nginxgen.yaml"


@dataclass(frozen=True)
class SourceMap:
    """Where each value of one YAML file stands: 1-based (line, column) by field path."""

    file: str
    positions: dict[FieldPath, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[FieldPath, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: FieldPath) -> tuple[int, int]:
        """The position of `path`, or of its nearest ancestor present in the file."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.positions:
                return self.positions[path[:end]]
        return (1, 1)

    def problem(self, path: FieldPath, message: str, *, at_key: bool = False) -> Problem:
        """A problem with the value at `path` (or with its key, e.g. an unknown field)."""
        position = self.key_positions.get(path) if at_key else None
        line, column = position or self.locate(path)
        return Problem(self.file, line, column, dotted(path), message)


@dataclass(frozen=True)
class LoadedEnvironment:
    """An environment as read from `<name>.yaml`, with the map back to its source."""

    name: str
    model: Environment
    source: SourceMap


def dotted(path: FieldPath) -> str:
    """`('services', 'app', 'port')` → `services.app.port`; `('routes', 0)` → `routes[0]`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


# Limits no honest file comes near; beyond them a file is refused rather than read.
MAX_FILE_BYTES = 512 * 1024
MAX_DEPTH = 64  # nested mappings and lists (the models need 6)
MAX_VALUES = 100_000  # values once aliases are expanded (a billion laughs stops here)
MAX_INTEGER_CHARACTERS = 20  # more than any port, size or count needs


class _DuplicateKey(Exception):
    def __init__(self, path: FieldPath, key: str, mark: yaml.Mark) -> None:
        super().__init__(key)
        self.path, self.key, self.mark = path, key, mark


def _position(mark: yaml.Mark) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1)


class _Refused(yaml.constructor.ConstructorError):
    """A document nginxgen refuses (a limit, a tag): located by either parser alike."""


class _RefusedDocument(ConfigError):
    pass


def _refuse(problem: str, mark: Any) -> yaml.constructor.ConstructorError:
    return _Refused(None, None, problem, mark)


# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution), for plain scalars.
_CORE_NULL = re.compile(r"null|Null|NULL|~|")
_CORE_BOOL = re.compile(r"true|True|TRUE|false|False|FALSE")
_CORE_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_CORE_FLOAT = re.compile(
    r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)"
)
_TAG = "tag:yaml.org,2002:"


class _CoreResolver(yaml.resolver.Resolver):
    """Plain scalars resolve as in YAML 1.2's core schema, not YAML 1.1's."""

    yaml_implicit_resolvers: dict[Any, Any] = {}


for _name, _pattern, _first in (
    ("null", _CORE_NULL, ["~", "n", "N", ""]),
    ("bool", _CORE_BOOL, list("tTfF")),
    ("int", _CORE_INT, list("-+0123456789")),
    ("float", _CORE_FLOAT, list("-+0123456789.")),
):
    # PyYAML tries a resolver with `.match`: `\Z` makes it match the whole scalar.
    _CoreResolver.add_implicit_resolver(
        _TAG + _name, re.compile(rf"(?:{_pattern.pattern})\Z"), _first
    )


def _construct_null(loader: Any, node: yaml.ScalarNode) -> None:
    return None


def _construct_bool(loader: Any, node: yaml.ScalarNode) -> bool:
    value = loader.construct_scalar(node)
    if not _CORE_BOOL.fullmatch(value):
        raise _refuse(f"{value!r} is not true or false", node.start_mark)
    return bool(value.lower() == "true")


def _construct_int(loader: Any, node: yaml.ScalarNode) -> int:
    value = loader.construct_scalar(node)
    if not _CORE_INT.fullmatch(value):
        raise _refuse(f"{value!r} is not an integer", node.start_mark)
    if len(value) > MAX_INTEGER_CHARACTERS:
        raise _refuse(
            f"an integer of {len(value)} characters is too large "
            f"(at most {MAX_INTEGER_CHARACTERS})",
            node.start_mark,
        )
    if value.startswith(("0o", "0x")):
        return int(value[2:], 8 if value[1] == "o" else 16)
    return int(value, 10)


def _construct_str(loader: Any, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


def _construct_float(loader: Any, node: yaml.ScalarNode) -> float:
    value = loader.construct_scalar(node)
    if not _CORE_FLOAT.fullmatch(value):
        raise _refuse(f"{value!r} is not a number", node.start_mark)
    if value.lstrip("+-").lower() == ".inf":
        return float("-inf") if value.startswith("-") else float("inf")
    return float("nan") if value.lower() == ".nan" else float(value)


class _CoreConstructor(yaml.constructor.SafeConstructor):
    """Only the core schema's types; every other tag is an error."""

    yaml_constructors: ClassVar[dict[Any, Any]] = {}  # a fresh table, not SafeConstructor's


for _name, _constructor in (
    ("null", _construct_null),
    ("bool", _construct_bool),
    ("int", _construct_int),
    ("float", _construct_float),
    ("str", _construct_str),
):
    _CoreConstructor.add_constructor(_TAG + _name, _constructor)


def _construct_other(loader: Any, node: yaml.Node) -> None:
    raise _refuse(
        f"the tag {node.tag!r} is not supported: only strings, numbers, true/false, null, "
        "lists and mappings",
        node.start_mark,
    )


_CoreConstructor.add_constructor(None, _construct_other)


class _PureLoader(
    yaml.reader.Reader,
    yaml.scanner.Scanner,
    yaml.parser.Parser,
    yaml.composer.Composer,
    _CoreConstructor,
    _CoreResolver,
):
    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _CoreConstructor.__init__(self)
        _CoreResolver.__init__(self)


_COLLECTION_TAGS: dict[type[yaml.Node], str] = {
    yaml.MappingNode: _TAG + "map",
    yaml.SequenceNode: _TAG + "seq",
}


class _Builder:
    """Nodes → plain values, recording positions; refuses what no environment file needs."""

    def __init__(self, loader: Any, source: SourceMap) -> None:
        self.loader, self.source, self.values = loader, source, 0

    def build(self, node: yaml.Node, path: FieldPath, depth: int = 0) -> Any:
        self.values += 1
        if self.values > MAX_VALUES:
            raise _refuse(
                f"more than {MAX_VALUES} values once aliases are expanded", node.start_mark
            )
        if depth > MAX_DEPTH:
            raise _refuse(
                f"nested more than {MAX_DEPTH} levels deep (or an alias that contains itself)",
                node.start_mark,
            )
        self.source.positions[path] = _position(node.start_mark)
        expected_tag = _COLLECTION_TAGS.get(type(node))
        if expected_tag is not None and node.tag != expected_tag:
            _construct_other(self.loader, node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return [
                self.build(item, (*path, index), depth + 1) for index, item in enumerate(node.value)
            ]
        return self.loader.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: FieldPath, depth: int) -> dict[Any, Any]:
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                # A YAML key may be a list or mapping (`? [a, b]`); no field is named like that.
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    "found a list or mapping as a key",
                    key_node.start_mark,
                )
            key = self.loader.construct_object(key_node, deep=True)
            if key in mapping:
                raise _DuplicateKey(path, str(key), key_node.start_mark)
            self.source.key_positions[(*path, key)] = _position(key_node.start_mark)
            mapping[key] = self.build(value_node, (*path, key), depth + 1)
            # A value's error points at its key when the value itself is empty or on its own line.
            if value_node.start_mark.line != key_node.start_mark.line:
                self.source.positions[(*path, key)] = _position(key_node.start_mark)
        return mapping


def _check_nesting(loader: Any) -> None:
    """Refuse deep nesting from the event stream, before composing recurses into it."""
    depth = 0
    while loader.check_event():
        event = loader.get_event()
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise _refuse(f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


# libyaml's parser, where PyYAML was built with it, is several times faster than the pure-Python
# one; the pure-Python one words errors as users see them, so a document libyaml rejects is
# parsed again by it for the message.
_CParser: Any = getattr(yaml, "CParser", None)
_LOADERS: list[type[Any]] = []
if _CParser is not None:

    class _FastLoader(_CParser, _CoreConstructor, _CoreResolver):  # type: ignore[misc]
        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)
            _CoreConstructor.__init__(self)
            _CoreResolver.__init__(self)

    _LOADERS.append(_FastLoader)
_LOADERS.append(_PureLoader)


def parse_yaml(text: str, file: str) -> tuple[Any, SourceMap]:
    """Parse one YAML document, recording the position of every value. Raises ConfigError."""
    *fast, pure = _LOADERS
    for loader_class in fast:
        try:
            return _parse_with(loader_class, text, file)
        except _RefusedDocument:
            raise  # worded by nginxgen, not the parser: no need to parse it again
        except ConfigError:
            break
    return _parse_with(pure, text, file)


def _text_position(text: str, index: int) -> tuple[int, int]:
    index = max(0, min(index, len(text)))
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


def _parse_with(loader_class: type[Any], text: str, file: str) -> tuple[Any, SourceMap]:
    source = SourceMap(file)
    loader = None
    try:
        loader = loader_class(text)
        _check_nesting(loader)
        loader.dispose()
        loader = loader_class(text)
        node = loader.get_single_node()
        data = None if node is None else _Builder(loader, source).build(node, ())
    except _DuplicateKey as duplicate:
        line, column = _position(duplicate.mark)
        raise ConfigError(
            [
                Problem(
                    file,
                    line,
                    column,
                    dotted((*duplicate.path, duplicate.key)),
                    f"duplicate key {duplicate.key!r}",
                )
            ]
        ) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = _position(mark) if mark else (1, 1)
        message = ": ".join(part for part in (error.context, error.problem) if part)
        kind = _RefusedDocument if isinstance(error, _Refused) else ConfigError
        raise kind([Problem(file, line, column, "", f"invalid YAML: {message}")]) from None
    except yaml.reader.ReaderError as error:
        # The pure-Python reader counts characters (libyaml bytes; its error is not reported).
        character = error.character
        code = character if isinstance(character, int) else ord(character)
        line, column = _text_position(text, error.position)
        raise ConfigError(
            [Problem(file, line, column, "", f"invalid YAML: character U+{code:04X} not allowed")]
        ) from None
    except (yaml.YAMLError, RecursionError) as error:
        message = f"invalid YAML: {error}" if isinstance(error, yaml.YAMLError) else "too deep"
        raise ConfigError([Problem(file, 1, 1, "", message.splitlines()[0])]) from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, source


_MESSAGES = {
    "missing": "required field is missing",
    "extra_forbidden": "unknown field",
    "less_than_equal": "must be ≤ {le}",
    "greater_than_equal": "must be ≥ {ge}",
    "too_short": "must have at least {min_length} item(s)",
    "string_too_short": "must not be empty",
    "string_too_long": "must be at most {max_length} characters",
    "int_type": "must be a whole number",
    "string_type": "must be a string",
    "bool_type": "must be true or false (yes, no, on and off are strings)",
    "bool_parsing": "must be true or false (yes, no, on and off are strings)",
    "int_parsing": "must be a whole number",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "string_pattern_mismatch": "must match {pattern}",
}


def _message(error: dict[str, Any]) -> str:
    if error["type"] == "string_pattern_mismatch":
        meaning = PATTERN_MEANINGS.get(error.get("ctx", {}).get("pattern", ""))
        if meaning is not None:
            return f"{error['input']!r} is not {meaning}"
    template = _MESSAGES.get(error["type"])
    if template is not None:
        return template.format(**error.get("ctx", {}))
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message


def _validation_problems(error: ValidationError, source: SourceMap) -> list[Problem]:
    problems = []
    for item in error.errors():
        path = tuple(part for part in item["loc"] if isinstance(part, str | int))
        # pydantic appends "[key]" to the location of an invalid dict key; the key is the field.
        if path and path[-1] == "[key]":
            path = path[:-1]
        unknown = item["type"] == "extra_forbidden"
        problems.append(source.problem(path, _message(dict(item)), at_key=unknown))
    return problems


def validate(model: type[ModelT], text: str, file: str) -> tuple[ModelT, SourceMap]:
    """YAML text → a validated model, or ConfigError with every problem located."""
    data, source = parse_yaml(text, file)
    if data is None:
        data = {} if model is Settings else data
    if not isinstance(data, dict):
        line, column = source.locate(())
        kind = "an empty file" if data is None else f"a {type(data).__name__}"
        raise ConfigError([Problem(file, line, column, "", f"expected a mapping, got {kind}")])
    try:
        return model.model_validate(data), source
    except ValidationError as error:
        raise ConfigError(_validation_problems(error, source)) from None


def display_path(path: Path) -> str:
    """A path as users wrote it: relative to the working directory when it is below it."""
    # The directory is resolved, the name is not: a symbolic link is shown as itself, even one
    # that loops or points nowhere.
    try:
        return str((path.parent.resolve() / path.name).relative_to(Path.cwd().resolve()))
    except (ValueError, OSError, RuntimeError):
        return str(path)


def file_kind(mode: int) -> str:
    """What a file that is not a regular file is, for messages: "a directory", ..."""
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    )
    return next((kind for test, kind in kinds if test(mode)), "a special file")


def _unreadable(path: Path, reason: str) -> ConfigError:
    return ConfigError([Problem(display_path(path), 1, 1, "", reason)])


def _read_error(path: Path, error: OSError) -> ConfigError:
    if error.errno == errno.ELOOP:
        return _unreadable(path, "cannot read: a symbolic link loop")
    if isinstance(error, FileNotFoundError) and path.is_symlink():
        return _unreadable(path, "cannot read: a symbolic link to a file that does not exist")
    if isinstance(error, FileNotFoundError):
        return _unreadable(path, "file not found")
    return _unreadable(path, f"cannot read: {error.strerror or error}")


def read_bytes(path: Path) -> bytes:
    """A configuration file's bytes: a regular file of at most MAX_FILE_BYTES, else ConfigError
    naming it. Never blocks: a FIFO is refused from its metadata, and opened non-blocking."""
    try:
        status = path.stat()
        if not stat.S_ISREG(status.st_mode):
            raise _unreadable(path, f"is {file_kind(status.st_mode)}, not a file")
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
        descriptor = os.open(path, flags)
    except OSError as error:
        raise _read_error(path, error) from None
    try:
        # The file may have been swapped since the stat above: check what was opened.
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise _unreadable(path, f"is {file_kind(mode)}, not a file")
        chunks, size = [], 0
        while chunk := os.read(descriptor, 65536):
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_FILE_BYTES:
                raise _unreadable(path, f"is larger than {MAX_FILE_BYTES} bytes")
        return b"".join(chunks)
    except OSError as error:
        raise _read_error(path, error) from None
    finally:
        os.close(descriptor)


def read_text(path: Path) -> str:
    """A YAML file's text; bytes that are not UTF-8 are the user's to fix, so a ConfigError."""
    data = read_bytes(path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise ConfigError(
            [Problem(display_path(path), line, column, "", "not UTF-8 text")]
        ) from None


def load_environment(path: Path) -> LoadedEnvironment:
    model, source = validate(Environment, read_text(path), display_path(path))
    return LoadedEnvironment(path.stem, model, source)


def environment_files(directory: Path) -> list[Path]:
    """The environment files of `directory`, sorted: `*.yaml` and `*.yml`, no dotfiles (editors'
    lock and backup files such as `.#staging.yaml` are never environments)."""
    return sorted(
        path
        for pattern in ("*.yaml", "*.yml")
        for path in directory.glob(pattern)
        if not path.name.startswith(".")
    )


def read_environments(directory: Path) -> tuple[list[LoadedEnvironment], list[Problem]]:
    """Every `*.yaml` / `*.yml` file of `directory`, sorted by name: those that loaded, and the
    problems of those that did not (so later rules can still run on the others)."""
    if not directory.is_dir():
        reason = (
            "environments directory not found"
            if not os.path.lexists(directory)
            else "the environments directory is not a directory"
        )
        raise ConfigError([Problem(display_path(directory), 1, 1, "", reason)])
    files = environment_files(directory)
    if not files:
        raise ConfigError(
            [Problem(display_path(directory), 1, 1, "", "no environment files (*.yaml) found")]
        )
    loaded: list[LoadedEnvironment] = []
    problems: list[Problem] = []
    for path in files:
        try:
            loaded.append(load_environment(path))
        except ConfigError as error:
            problems.extend(error.problems)
    return loaded, problems


def load_environments(directory: Path) -> list[LoadedEnvironment]:
    """Every environment of `directory`, or ConfigError with the problems of all files."""
    loaded, problems = read_environments(directory)
    if problems:
        raise ConfigError(problems)
    return loaded


def load_settings(path: Path | None) -> Settings:
    """`nginxgen.yaml`: the given file, else the one in the working directory, else defaults."""
    if path is None:
        path = Path(SETTINGS_FILE)
        # Absent: defaults. Present but a directory, a dangling link, unreadable: an error.
        if not os.path.lexists(path):
            return Settings()
    elif not os.path.lexists(path):
        raise ConfigError([Problem(display_path(path), 1, 1, "", "settings file not found")])
    settings, _ = validate(Settings, read_text(path), display_path(path))
    return settings
