"""`nginxgen rollback [--to VERSION]`: a kept deployed version back into the running proxy.

The deploy flow of the live-proxy system (`docker/deploy_flow.py`: tested inside the container,
swapped, reloaded, verified; the previous file restored if the reload does not take), with a
kept version as the candidate. Without `--to`, the newest kept version that is not live now.
Sites are not probed: the environments of an old version may no longer be the ones in
environments/. With `--swarm-service`, every running task of the service on this Docker host.
"""

from __future__ import annotations

from pathlib import Path

from nginxgen.commands.project import outcome_report
from nginxgen.commands.result import EXIT_FINDINGS, Report
from nginxgen.core.errors import UsageError
from nginxgen.docker.deploy_flow import (
    Progress,
    Transcript,
    apply,
    find_proxies,
    locate_shared,
    quiet,
)
from nginxgen.docker.live import Refused, rollback_target
from nginxgen.docker.operations import kept_versions, read_version
from nginxgen.docker.selection import ProxySelection
from nginxgen.generation.loader import load_settings


def rollback(
    to: str | None,
    selection: ProxySelection,
    settings_file: Path | None,
    progress: Progress = quiet,
) -> Report:
    settings = load_settings(settings_file)
    transcript = Transcript()
    try:
        progress("finding the proxy…")
        proxies = find_proxies(selection)
        first = proxies[0]
        layout = locate_shared(proxies, settings.output)
        live = first.read_text(layout.live_path)
        try:
            name = rollback_target(kept_versions(first, layout), live, to)
        except LookupError as error:
            raise UsageError(str(error)) from None
        names = ", ".join(proxy.name for proxy in proxies)
        transcript.say(f"rolling back {names} to {name}")
        outcome = apply(
            proxies, layout, read_version(first, layout, name), transcript, progress=progress
        )
    except Refused as refused:
        transcript.say(f"rollback refused: {refused}")
        return Report(EXIT_FINDINGS, transcript.text)
    if outcome.state == "deployed":
        transcript.say(f"rolled back to {name}")
    return outcome_report(outcome, transcript)
