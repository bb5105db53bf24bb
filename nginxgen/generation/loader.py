"""YAML files → models, keeping where every value came from.

This is the only module that turns YAML errors and pydantic `ValidationError`s into user-facing
`Problem`s: each names the file, line, column and dotted field path, and all of them are
collected before anything is raised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from nginxgen.core.errors import ConfigError, Problem
from nginxgen.generation.models import PATTERN_MEANINGS, Environment, Settings

FieldPath = tuple[str | int, ...]
YamlLoader = yaml.SafeLoader | yaml.CSafeLoader
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


class _DuplicateKey(Exception):
    def __init__(self, path: FieldPath, key: str, mark: yaml.Mark) -> None:
        super().__init__(key)
        self.path, self.key, self.mark = path, key, mark


def _position(mark: yaml.Mark) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1)


def _construct(loader: YamlLoader, node: yaml.Node, path: FieldPath, source: SourceMap) -> Any:
    positions = source.positions
    positions[path] = _position(node.start_mark)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key, list | dict | set):
                # A YAML key may be a list or mapping (`? [a, b]`); no field is named like that.
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    "found a list or mapping as a key",
                    key_node.start_mark,
                )
            if key in mapping:
                raise _DuplicateKey(path, str(key), key_node.start_mark)
            source.key_positions[(*path, key)] = _position(key_node.start_mark)
            mapping[key] = _construct(loader, value_node, (*path, key), source)
            # A value's error points at its key when the value itself is empty or on its own line.
            if value_node.start_mark.line != key_node.start_mark.line:
                positions[(*path, key)] = _position(key_node.start_mark)
        return mapping
    if isinstance(node, yaml.SequenceNode):
        return [
            _construct(loader, item, (*path, index), source)
            for index, item in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)


# libyaml's parser, where PyYAML was built with it, is several times faster than the pure-Python
# one; the pure-Python one words errors as users see them, so a document libyaml rejects is
# parsed again by it for the message.
_FAST_LOADER: type[YamlLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str, file: str) -> tuple[Any, SourceMap]:
    """Parse one YAML document, recording the position of every value. Raises ConfigError."""
    try:
        return _parse_with(_FAST_LOADER, text, file)
    except ConfigError:
        if _FAST_LOADER is yaml.SafeLoader:
            raise
        return _parse_with(yaml.SafeLoader, text, file)


def _parse_with(loader_class: type[YamlLoader], text: str, file: str) -> tuple[Any, SourceMap]:
    loader = loader_class(text)
    source = SourceMap(file)
    try:
        node = loader.get_single_node()
        data = None if node is None else _construct(loader, node, (), source)
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
        raise ConfigError([Problem(file, line, column, "", f"invalid YAML: {message}")]) from None
    finally:
        loader.dispose()
    return data, source


_MESSAGES = {
    "missing": "required field is missing",
    "extra_forbidden": "unknown field",
    "less_than_equal": "must be ≤ {le}",
    "greater_than_equal": "must be ≥ {ge}",
    "too_short": "must have at least {min_length} item(s)",
    "int_type": "must be a whole number",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
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
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def read_text(path: Path) -> str:
    """A YAML file's text; bytes that are not UTF-8 are the user's to fix, so a ConfigError."""
    data = path.read_bytes()
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
        raise ConfigError(
            [Problem(display_path(directory), 1, 1, "", "environments directory not found")]
        )
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
        if not path.is_file():
            return Settings()
    if not path.is_file():
        raise ConfigError([Problem(display_path(path), 1, 1, "", "settings file not found")])
    settings, _ = validate(Settings, read_text(path), display_path(path))
    return settings
