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
