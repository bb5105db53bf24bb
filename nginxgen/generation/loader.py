"""YAML files → models, keeping where every value came from.

This is the only module that turns YAML errors and pydantic `ValidationError`s into user-facing
`Problem`s: each names the file, line, column and dotted field path, and all of them are
collected before anything is raised. The YAML itself is parsed by `yaml_source`.

Every file is read as hostile: it must be a regular file of bounded size (never a FIFO that
blocks a read) before its text reaches the parser.
"""

from __future__ import annotations

import difflib
import errno
import os
import stat
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from nginxgen.core.errors import ConfigError, Problem
from nginxgen.core.files import file_kind
from nginxgen.generation.fields import PATTERN_MEANINGS
from nginxgen.generation.models import Environment, Settings
from nginxgen.generation.yaml_source import SourceMap, parse_yaml

ModelT = TypeVar("ModelT", bound=BaseModel)

SETTINGS_FILE = "nginxgen.yaml"


@dataclass(frozen=True)
class LoadedEnvironment:
    """An environment as read from `<name>.yaml`, with the map back to its source."""

    name: str
    model: Environment
    source: SourceMap


# No honest file comes near this size; a larger one is refused rather than read.
MAX_FILE_BYTES = 512 * 1024


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


def _validation_problems(
    error: ValidationError, source: SourceMap, model: type[BaseModel]
) -> list[Problem]:
    problems = []
    for item in error.errors():
        path = tuple(part for part in item["loc"] if isinstance(part, str | int))
        # pydantic appends "[key]" to the location of an invalid dict key; the key is the field.
        if path and path[-1] == "[key]":
            path = path[:-1]
        unknown = item["type"] == "extra_forbidden"
        message = _message(dict(item))
        if unknown and path and isinstance(path[-1], str):
            message += _did_you_mean(path[-1], _fields_at(model, path[:-1]))
        problems.append(source.problem(path, message, at_key=unknown))
    return problems


def _did_you_mean(key: str, known: set[str]) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.7)
    return f"; did you mean `{close[0]}`?" if close else ""


def _fields_at(model: type[BaseModel], path: tuple[str | int, ...]) -> set[str]:
    """The field names of the model(s) that `path` leads to inside `model` (through optional
    values, lists and mappings), for suggestions."""
    types: list[Any] = [model]
    for part in path:
        types = [inner for kind in types for inner in _step(kind, part)]
    return {name for kind in types for found in _models(kind) for name in found.model_fields}


def _step(kind: Any, part: str | int) -> list[Any]:
    found = []
    for candidate in _unwrapped(kind):
        origin, arguments = typing.get_origin(candidate), typing.get_args(candidate)
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            field = candidate.model_fields.get(str(part))
            if field is not None:
                found.append(field.annotation)
        elif origin in (list, tuple) and isinstance(part, int) and arguments:
            found.append(arguments[0])
        elif origin is dict and len(arguments) == 2:
            found.append(arguments[1])
    return found


def _unwrapped(kind: Any) -> list[Any]:
    """`Annotated[X, ...]` → X; `X | Y | None` → X, Y."""
    if typing.get_origin(kind) is typing.Annotated:
        return _unwrapped(typing.get_args(kind)[0])
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        return [inner for argument in typing.get_args(kind) for inner in _unwrapped(argument)]
    return [kind]


def _models(kind: Any) -> list[type[BaseModel]]:
    return [
        candidate
        for candidate in _unwrapped(kind)
        if isinstance(candidate, type) and issubclass(candidate, BaseModel)
    ]


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
        raise ConfigError(_validation_problems(error, source, model)) from None


def display_path(path: Path) -> str:
    """A path as users wrote it: relative to the working directory when it is below it."""
    # The directory is resolved, the name is not: a symbolic link is shown as itself, even one
    # that loops or points nowhere.
    try:
        return str((path.parent.resolve() / path.name).relative_to(Path.cwd().resolve()))
    except (ValueError, OSError, RuntimeError):
        return str(path)


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
