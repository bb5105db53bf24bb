"""`nginxgen deploy`: the rendered output into the running proxy, through the live-proxy
system's deploy flow (`docker/deploy_flow.py`: tested in the proxy first, swapped, reloaded,
verified, probed, rolled back when anything fails). What is the environments' business stays
here: the probe targets, and tracing nginx's errors back to the environment files.

Exit 0 deployed · 1 refused or rolled back · 2 usage · 130 interrupted (after the critical
section finished or was undone).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from pathlib import Path

from nginxgen.commands.certificates import acme_client, orders
from nginxgen.commands.project import (
    explain_test_failure,
    open_project,
    outcome_report,
    probe_targets,
)
from nginxgen.commands.result import EXIT_FINDINGS, EXIT_OK, Report
from nginxgen.docker.acme import Certbot
from nginxgen.docker.deploy_flow import (
    Outcome,
    Progress,
    Recording,
    Transcript,
    apply,
    find_proxies,
    locate_shared,
    quiet,
    restore,
)
from nginxgen.docker.deploy_record import record_deploy
from nginxgen.docker.issuance import deploy_with_certificates, missing_orders
from nginxgen.docker.live import LiveLayout, Refused
from nginxgen.docker.proxy import ProxyContainer, connect
from nginxgen.docker.selection import BySwarmService, ProxySelection
from nginxgen.docker.swarm_rollout import config_target, deploy_to_service, uses_config
from nginxgen.generation.models import Settings
from nginxgen.generation.pipeline import Generated, generate


def obtain_first(
    directory: Path,
    settings: Settings,
    generated: Generated,
    proxies: Sequence[ProxyContainer],
    layout: LiveLayout,
    transcript: Transcript,
    recording: Recording,
    *,
    dry_run: bool = False,
    progress: Progress = quiet,
) -> Outcome | None:
    """With `acme` set and certificates missing in the proxy: the pending candidate, certbot,
    the full candidate (docs/certificates.md, `docker/issuance.py`); each candidate goes through
    the deploy flow. None: nothing to obtain. A dry run tests the pending candidate, which is
    what the proxy would serve meanwhile (the full one cannot pass `nginx -t` before its
    certificates exist)."""
    missing = missing_orders(proxies[0], orders(generated.plan, settings))
    if not missing or settings.acme is None:
        return None
    pending = generate(directory, settings, {order.environment for order in missing})
    previous = proxies[0].read_text(layout.live_path)

    def deploy_candidate(text: str, dry: bool = False) -> Outcome:
        step = pending if text == pending.text else generated
        return apply(
            proxies,
            layout,
            text,
            transcript,
            targets=probe_targets(step),
            explain=lambda test: explain_test_failure(test, step.plan.environments),
            recording=None if dry or step is pending else recording,
            dry_run=dry,
            progress=progress,
        )

    if dry_run:
        names = ", ".join(order.environment for order in missing)
        transcript.say(
            f"would obtain first: {names}; testing the candidate that serves them as "
            "'certificate pending'"
        )
        return deploy_candidate(pending.text, dry=True)
    certbot = Certbot(proxies[0].client, proxies[0], acme_client(settings.acme))
    outcomes: list[Outcome] = []

    def deploy_step(text: str) -> bool:
        outcomes.append(deploy_candidate(text))
        return outcomes[-1].ok and outcomes[-1].signal is None

    ok = deploy_with_certificates(
        missing,
        certbot,
        pending.text,
        generated.text,
        deploy_step,
        lambda: _restore(proxies, layout, previous, transcript, progress),
        transcript.say,
    )
    if ok:
        return outcomes[-1]
    signal = next((outcome.signal for outcome in outcomes if outcome.signal), None)
    return Outcome("rolled back", "the previous config is serving again", signal)


def _restore(
    proxies: Sequence[ProxyContainer],
    layout: LiveLayout,
    previous: str | None,
    transcript: Transcript,
    progress: Progress,
) -> None:
    """Issuance failed after the pending candidate went live: the previous config back."""
    restore(proxies, layout, previous, transcript, progress)


def deploy(
    selection: ProxySelection,
    dry_run: bool,
    keep: int,
    environments: Path | None,
    settings_file: Path | None,
    now: datetime.datetime | None = None,
    progress: Progress = quiet,
) -> Report:
    project = open_project(settings_file, environments)
    progress("rendering and self-checking the environments…")
    generated = generate(project.directory, project.settings)
    transcript = Transcript()
    try:
        if isinstance(selection, BySwarmService):
            # A service that mounts its config as a Swarm config (the stack `nginxgen stack`
            # prints): the rollout is Swarm's, on every node (docs/swarm.md).
            client, target = connect(), config_target(project.settings.output)
            if uses_config(client, selection.service, target):
                swarm = deploy_to_service(
                    client,
                    selection.service,
                    generated.text,
                    target=target,
                    keep=keep,
                    say=transcript.say,
                    dry_run=dry_run,
                )
                return Report(EXIT_OK if swarm.ok else EXIT_FINDINGS, transcript.text)
        progress("finding the proxy…")
        proxies = find_proxies(selection)
        if isinstance(selection, BySwarmService):
            names = ", ".join(proxy.name for proxy in proxies)
            transcript.say(f"service {selection.service}: {len(proxies)} running task(s): {names}")
        layout = locate_shared(proxies, project.settings.output)
        moment = now or datetime.datetime.now(datetime.UTC)
        recording = Recording(keep, moment)
        outcome = obtain_first(
            project.directory,
            project.settings,
            generated,
            proxies,
            layout,
            transcript,
            recording,
            dry_run=dry_run,
            progress=progress,
        ) or apply(
            proxies,
            layout,
            generated.text,
            transcript,
            targets=probe_targets(generated),
            explain=lambda test: explain_test_failure(test, generated.plan.environments),
            recording=recording,
            dry_run=dry_run,
            progress=progress,
        )
        if not dry_run:  # for `status --format openmetrics` (docs/metrics.md)
            record_deploy(proxies[0], layout, moment, outcome.ok)
    except Refused as refused:
        transcript.say(f"deploy refused: {refused}")
        return Report(EXIT_FINDINGS, transcript.text)
    if outcome.state == "deployed":
        transcript.say(f"deployed to {', '.join(proxy.name for proxy in proxies)}")
    return outcome_report(outcome, transcript)
