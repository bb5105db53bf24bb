"""What nginx says: its `[level]` messages, located in the tested configs and attributed to the
environment a generated line came from, and the version it reports."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from nginxgen.core.markers import EnvironmentMarker, environment_at
from nginxgen.core.versions import reported_version

ERROR_LEVELS = frozenset({"emerg", "alert", "crit", "error"})

# Before its error log is open nginx writes `nginx: [emerg] ...`; once it is (Debian's builds log
# to stderr), `2026/01/31 12:00:00 [emerg] 6#6: ...`.
NGINX_MESSAGE = re.compile(
    r"^(?:nginx: |\d{4}/\d\d/\d\d \d\d:\d\d:\d\d )\[(?P<level>[a-z]+)\] (?:\d+#\d+: )?"
    r"(?:\*\d+ )?(?P<text>.*?)(?: in (?P<path>\S+):(?P<line>\d+))?$"
)


@dataclass(frozen=True)
class NginxMessage:
    """One message of `nginx -t`, located in the tested configs where nginx named a line there."""

    level: str
    text: str
    config: str | None = None
    line: int | None = None
    environment: EnvironmentMarker | None = None

    @property
    def is_error(self) -> bool:
        return self.level in ERROR_LEVELS

    def __str__(self) -> str:
        where = f"{self.config}:{self.line}: " if self.config else ""
        source = (
            f" (environment {self.environment.name}, from {self.environment.file})"
            if self.environment
            else ""
        )
        return f"{where}[{self.level}] {self.text}{source}"


def nginx_version(output: str) -> str:
    """`nginx/1.26.3` from the output of `nginx -v`, or "unknown"."""
    reported = reported_version(output)
    return reported[0] if reported else "unknown"


def parse_messages(
    output: str, config_paths: Mapping[str, str], texts: Mapping[str, str]
) -> list[NginxMessage]:
    """nginx's `[level]` messages; those in a tested config carry its name, line and environment."""
    messages = []
    for output_line in output.splitlines():
        match = NGINX_MESSAGE.match(output_line.strip())
        if not match:
            continue
        config = config_paths.get(match["path"] or "")
        if config is None:
            # Not in a tested config (or no location at all): keep nginx's own words whole.
            text = match["text"]
            if match["path"]:
                text = f"{text} in {match['path']}:{match['line']}"
            messages.append(NginxMessage(match["level"], text))
            continue
        line = int(match["line"])
        messages.append(
            NginxMessage(
                level=match["level"],
                text=match["text"],
                config=config,
                line=line,
                environment=environment_at(texts.get(config, ""), line),
            )
        )
    return messages
