"""`nginxgen rollback [--to VERSION]`: a kept deployed version back into the running proxy.

The same safe path as `deploy` (test inside the container, swap, reload, verify; the previous file
restored if the reload does not take), with a kept version as the candidate. Without `--to`,
the newest kept version that is not live now. Sites are not probed: the environments of an old
version may no longer be the ones in environments/.
"""

from __future__ import annotations

from pathlib import Path

from nginxgen.commands.deploy import Transcript, apply, locate
from nginxgen.commands.result import EXIT_FINDINGS, EXIT_OK, Report
from nginxgen.core.errors import UsageError
from nginxgen.docker.live import Refused, rollback_target
from nginxgen.docker.operations import kept_versions, read_version
from nginxgen.docker.proxy import connect, find_proxy
from nginxgen.generation.loader import load_settings


def rollback(
    to: str | None,
    container: str | None,
    compose_service: str | None,
    settings_file: Path | None,
) -> Report:
    settings = load_settings(settings_file)
    proxy = find_proxy(connect(), container, compose_service)
    transcript = Transcript()
    try:
        layout = locate(proxy, settings.output)
        live = proxy.read_text(layout.live_path)
        try:
            name = rollback_target(kept_versions(proxy, layout), live, to)
        except LookupError as error:
            raise UsageError(str(error)) from None
        transcript.say(f"rolling back {proxy.name} to {name}")
        ok = apply(proxy, layout, read_version(proxy, layout, name), (), (), transcript)
    except Refused as refused:
        transcript.say(f"rollback refused: {refused}")
        return transcript.report(EXIT_FINDINGS)
    if ok:
        transcript.say(f"rolled back to {name}")
    return transcript.report(EXIT_OK if ok else EXIT_FINDINGS)
