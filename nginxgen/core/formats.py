"""The choices commands offer (output formats, where nginx runs), each defined once, here at the
bottom so that the CLI can offer them without importing the systems behind them."""

from __future__ import annotations

from enum import StrEnum


class OutputFormat(StrEnum):
    """What most commands print: text for people, JSON for CI."""

    text = "text"
    json = "json"


class StatusFormat(StrEnum):
    """`nginxgen status` also writes OpenMetrics, for node_exporter's textfile collector."""

    text = "text"
    json = "json"
    openmetrics = "openmetrics"


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


def annotation_data(text: str) -> str:
    """`text` as the message of a GitHub Actions workflow command."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def annotation_property(text: str) -> str:
    """`text` as a property value (file, title) of a GitHub Actions workflow command."""
    return annotation_data(text).replace(":", "%3A").replace(",", "%2C")
