"""`nginxgen rollback [--to VERSION]`: a kept deployed version back into the running proxy.

The deploy flow of the live-proxy system (`docker/deploy_flow.py`: tested inside the container,
swapped, reloaded, verified; the previous file restored if the reload does not take), with a
kept version as the candidate. Without `--to`, the newest kept version that is not live now.
Sites are not probed: the environments of an old version may no longer be the ones in
environments/. With `--swarm-service`, as `deploy` does it: a kept Swarm config rolled out by
Swarm, or every running task on this Docker host.
"""

from __future__ import annotations

from pathlib import Path

from nginxgen.commands.project import outcome_report
from nginxgen.commands.result import EXIT_FINDINGS, EXIT_OK, Report
from nginxgen.core.errors import UsageError
from nginxgen.core.facts import KEPT_VERSIONS
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
from nginxgen.docker.proxy import connect
from nginxgen.docker.selection import BySwarmService, ProxySelection
from nginxgen.docker.swarm_rollout import (
    config_target,
    deploy_to_service,
    rollback_candidate,
    uses_config,
)
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
        if isinstance(selection, BySwarmService):
            client, target = connect(), config_target(settings.output)
            if uses_config(client, selection.service, target):
                try:
                    text = rollback_candidate(client, selection.service, target, to)
                except LookupError as error:
                    raise UsageError(str(error)) from None
                swarm = deploy_to_service(
                    client,
                    selection.service,
                    text,
                    target=target,
                    keep=KEPT_VERSIONS,
                    say=transcript.say,
                )
                return Report(EXIT_OK if swarm.ok else EXIT_FINDINGS, transcript.text)
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
