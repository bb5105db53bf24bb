"""The choices commands offer (output formats, where nginx runs), each defined once, here at the
bottom so that the CLI can offer them without importing the systems behind them."""

from __future__ import annotations

from enum import StrEnum


class OutputFormat(StrEnum):
    """What most commands print: text for people, JSON for CI."""

    text = "text"
    json = "json"


class AnnotatedFormat(StrEnum):
    """Commands whose findings have a place in a file also speak GitHub's annotations."""

    text = "text"
    json = "json"
    github = "github"


class EngineKind(StrEnum):
    """Where `nginx -t` runs: a throwaway Docker container, or the host's own binary."""

    docker = "docker"
    local = "local"


class SchemaKind(StrEnum):
    """The files `nginxgen schema` describes."""

    environment = "environment"
    settings = "settings"
