"""TLS file paths in config text, swapped for others (placeholders) without moving a line."""

from __future__ import annotations

import re
from collections.abc import Mapping

TLS_FILE_DIRECTIVE = re.compile(
    r"(?<![\w$])(?P<directive>ssl_certificate(?:_key)?|ssl_trusted_certificate"
    r"|ssl_client_certificate)(?P<space>\s+)(?P<quote>[\"']?)(?P<path>[^\"';\s]+)(?P=quote)"
    r"(?=\s*;)"
)


def rewrite_tls_paths(text: str, replacements: Mapping[str, str]) -> tuple[str, int]:
    """`text` with the TLS file paths in `replacements` swapped; also how many were swapped.

    Line numbers are kept, so nginx's messages about the copy point at the original's lines.
    """
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        new_path = replacements.get(match["path"])
        if new_path is None:
            return match[0]
        count += 1
        return f"{match['directive']}{match['space']}{match['quote']}{new_path}{match['quote']}"

    return TLS_FILE_DIRECTIVE.sub(replace, text), count
