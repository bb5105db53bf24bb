"""The output formats commands offer, each defined once."""

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


def annotation_data(text: str) -> str:
    """`text` as the message of a GitHub Actions workflow command."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def annotation_property(text: str) -> str:
    """`text` as a property value (file, title) of a GitHub Actions workflow command."""
    return annotation_data(text).replace(":", "%3A").replace(",", "%2C")
