"""`nginxgen rollback [--to VERSION]`: a kept deployed version back into the running proxy.

The same safe path as `deploy` (test inside the container, swap, reload, verify; the previous file
restored if the reload does not take), with a kept version as the candidate. Without `--to`,
the newest kept version that is not live now. Sites are not probed: the environments of an old
version may no longer be the ones in environments/. With `--swarm-service`, as `deploy` does it:
a kept Swarm config rolled out by Swarm, or every running task on this Docker host.
"""

from __future__ import annotations

from pathlib import Path

from nginxgen.commands.deploy import Transcript, apply, find_proxies, locate_shared
from nginxgen.commands.result import EXIT_FINDINGS, EXIT_OK, Report
from nginxgen.core.errors import UsageError
from nginxgen.docker.live import DEFAULT_KEEP, Refused, rollback_target
from nginxgen.docker.operations import kept_versions, read_version
from nginxgen.docker.proxy import connect
from nginxgen.docker.swarm_rollout import (
    config_target,
    deploy_to_service,
    rollback_candidate,
    uses_config,
)
from nginxgen.generation.loader import load_settings


def rollback(
    to: str | None,
    container: str | None,
    compose_service: str | None,
    settings_file: Path | None,
    swarm_service: str | None = None,
) -> Report:
    settings = load_settings(settings_file)
    transcript = Transcript()
    try:
        if swarm_service is not None and not (container or compose_service):
            client, target = connect(), config_target(settings.output)
            if uses_config(client, swarm_service, target):
                try:
                    text = rollback_candidate(client, swarm_service, target, to)
                except LookupError as error:
                    raise UsageError(str(error)) from None
                outcome = deploy_to_service(
                    client,
                    swarm_service,
                    text,
                    target=target,
                    keep=DEFAULT_KEEP,
                    say=transcript.say,
                )
                return transcript.report(EXIT_OK if outcome.ok else EXIT_FINDINGS)
        proxies = find_proxies(container, compose_service, swarm_service)
        first = proxies[0]
        layout = locate_shared(proxies, settings.output)
        live = first.read_text(layout.live_path)
        try:
            name = rollback_target(kept_versions(first, layout), live, to)
        except LookupError as error:
            raise UsageError(str(error)) from None
        names = ", ".join(proxy.name for proxy in proxies)
        transcript.say(f"rolling back {names} to {name}")
        ok = apply(proxies, layout, read_version(first, layout, name), (), (), transcript)
    except Refused as refused:
        transcript.say(f"rollback refused: {refused}")
        return transcript.report(EXIT_FINDINGS)
    if ok:
        transcript.say(f"rolled back to {name}")
    return transcript.report(EXIT_OK if ok else EXIT_FINDINGS)
