"""YAML text → plain values, with the position of every value (`SourceMap`), read as hostile.

YAML is read by the rules of YAML 1.2's core schema: `true`/`false` are the only booleans,
numbers are plain decimal (or `0o`/`0x`) numbers, and everything else — `on`, `no`, `1:30`,
dates — is a string. Tags that build other types (`!!binary`, `!!set`, `!!timestamp`, Python
objects) are errors, and nesting, alias expansion and integer size are capped so that no file
makes a command hang or crash. libyaml parses when PyYAML has it; the pure-Python parser words
the errors. Problems are located `file:line:column` with the dotted field path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

import yaml

from nginxgen.core.errors import ConfigError, Problem

FieldPath = tuple[str | int, ...]


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


def dotted(path: FieldPath) -> str:
    """`('services', 'app', 'port')` → `services.app.port`; `('routes', 0)` → `routes[0]`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


# Limits no honest file comes near; beyond them a file is refused rather than read.
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
# `yaml.CParser` is not exported at the top of the package: it lives in `yaml.cyaml`.
_CParser: Any = getattr(yaml.cyaml, "CParser", None) if yaml.__with_libyaml__ else None
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
    except (_DuplicateKey, yaml.YAMLError, RecursionError) as error:
        raise _refusal(error, text, file) from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, source


def _refusal(
    error: _DuplicateKey | yaml.YAMLError | RecursionError, text: str, file: str
) -> ConfigError:
    """The error a document that does not parse is reported with, located where possible."""
    if isinstance(error, _DuplicateKey):
        line, column = _position(error.mark)
        path = dotted((*error.path, error.key))
        return ConfigError([Problem(file, line, column, path, f"duplicate key {error.key!r}")])
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        line, column = _position(mark) if mark else (1, 1)
        message = ": ".join(part for part in (error.context, error.problem) if part)
        kind = _RefusedDocument if isinstance(error, _Refused) else ConfigError
        return kind([Problem(file, line, column, "", f"invalid YAML: {message}")])
    if isinstance(error, yaml.reader.ReaderError):
        # The pure-Python reader counts characters (libyaml bytes; its error is not reported).
        character = error.character
        code = character if isinstance(character, int) else ord(character)
        line, column = _text_position(text, error.position)
        message = f"invalid YAML: character U+{code:04X} not allowed"
        return ConfigError([Problem(file, line, column, "", message)])
    message = f"invalid YAML: {error}" if isinstance(error, yaml.YAMLError) else "too deep"
    return ConfigError([Problem(file, 1, 1, "", message.splitlines()[0])])
