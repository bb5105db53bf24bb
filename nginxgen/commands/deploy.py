"""`nginxgen deploy`: the rendered output into the running proxy, tested there first, verified
after, rolled back when anything fails. `nginxgen rollback` reuses `apply` with a kept version.

Steps: render and self-check; find the live directory (refusing a single-file mount); stage the
candidate and run `nginx -t` inside the live container; swap by rename; reload and verify that
it took; probe each environment; on any failure after the swap put the previous file back,
reload and verify again. Exit 0 deployed · 1 refused or rolled back · 2 usage.

With `--swarm-service` and a service that mounts its config as a Swarm config (the stack
`nginxgen stack` prints), the rollout is Swarm's, on every node (`docker/swarm_rollout.py`).
With a bind-mounted directory instead, the proxy is every running task of that service on this
Docker host; they must share the directory, so the candidate is tested and swapped once and
each task is reloaded, verified and probed (and, on a failure, reloaded with the previous file).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nginxgen.commands.project import open_project
from nginxgen.commands.result import EXIT_FINDINGS, EXIT_OK, Report
from nginxgen.core.errors import UsageError
from nginxgen.core.facts import conf_d_name
from nginxgen.docker.live import (
    DEFAULT_KEEP,
    LiveLayout,
    ProbeResult,
    ProbeTarget,
    Refused,
    digest,
    find_layout,
    shared_layout,
    unified_diff,
    version_of,
)
from nginxgen.docker.operations import (
    CandidateTest,
    check_candidate,
    kept_versions,
    probe,
    prune_versions,
    reload,
    save_version,
    swap_in,
)
from nginxgen.docker.proxy import ProxyContainer, connect, find_proxy
from nginxgen.docker.swarm import find_service_tasks
from nginxgen.docker.swarm_rollout import config_target, deploy_to_service, uses_config
from nginxgen.generation.loader import LoadedEnvironment
from nginxgen.generation.pipeline import Generated, generate
from nginxgen.generation.plan_types import EnvironmentPlan
from nginxgen.nginx.messages import NginxMessage

_CERTIFICATE_PATH = re.compile(r'cannot load certificate(?: key)? "(?P<path>[^"]+)"')


@dataclass
class Transcript:
    """What a deploy says, line by line, and how it ends."""

    lines: list[str] = field(default_factory=list)

    def say(self, *texts: str) -> None:
        self.lines += [text.rstrip("\n") for text in texts if text]

    def report(self, exit_code: int) -> Report:
        return Report(exit_code, "".join(f"{line}\n" for line in self.lines))


def probe_targets(generated: Generated) -> list[ProbeTarget]:
    """Each environment's primary domain over each port it serves, with its unavailable page."""
    loaded = {environment.name: environment for environment in generated.environments}
    targets = []
    for environment in generated.plan.environments:
        page = environment.error_page
        service = _root_service(loaded.get(environment.name))
        ports = ((443, True), (80, False)) if environment.tls else ((80, False),)
        for port, tls in ports:
            targets.append(
                ProbeTarget(
                    environment=environment.name,
                    host=environment.domains[0],
                    port=port,
                    tls=tls,
                    unavailable_status=page.status if page else None,
                    unavailable_body=page.body if page else None,
                    service=service,
                )
            )
    return targets


def _root_service(environment: LoadedEnvironment | None) -> str | None:
    """The service behind `/`, the path a probe asks for."""
    if environment is None:
        return None
    for route in environment.model.routes:
        if route.path == "/" and route.match == "prefix" and route.service:
            host = environment.model.services[route.service].addresses[0]
            return f"{route.service} ({host})"
    return None


def explain_test_failure(test: CandidateTest, environments: Sequence[EnvironmentPlan]) -> list[str]:
    """nginx's errors, each traced to its environment, with what to do for a missing certificate."""
    explained = []
    for message in test.messages:
        if not message.is_error:
            continue
        explained.append(str(message))
        advice = certificate_advice(message, environments)
        if advice:
            explained.append(advice)
    if not explained:
        explained.append(test.output.strip())
    return explained


def certificate_advice(message: NginxMessage, environments: Sequence[EnvironmentPlan]) -> str:
    """For a certificate nginx cannot load: whose it is and how to get it there."""
    match = _CERTIFICATE_PATH.search(message.text)
    if not match:
        return ""
    path = match["path"]
    for environment in environments:
        tls = environment.tls
        if tls and path in (tls.certificate, tls.certificate_key, tls.trusted_certificate):
            return (
                f"  environment {environment.name} ({environment.source}): {path} is not on the "
                f"proxy. Obtain the certificate for {environment.domains[0]} first through the "
                "ACME webroot on port 80 (deploy the environment with `tls: false` and an ACME "
                "route, run certbot, then restore `tls` and deploy again; docs/deploy.md), or "
                "point tls.certificate at the files the proxy has."
            )
    return f"  {path} is not on the proxy (no environment names it; an include?)"


def apply(
    proxies: Sequence[ProxyContainer],
    layout: LiveLayout,
    candidate: str,
    targets: Sequence[ProbeTarget],
    environments: Sequence[EnvironmentPlan],
    transcript: Transcript,
    *,
    dry_run: bool = False,
) -> bool:
    """Test `candidate` in the live container, swap, reload, verify, probe; restore on failure.
    `proxies` share `layout`'s directory (one container, or a Swarm service's tasks on one
    node): tested and swapped in the first, reloaded, verified and probed in each.
    True when `candidate` is live everywhere and every site answers."""
    first = proxies[0]
    previous = first.read_text(layout.live_path)
    if dry_run:
        diff = unified_diff(
            previous or "",
            candidate,
            f"{layout.live_path} (running in {first.name})",
            f"{layout.name} (candidate)",
        )
        transcript.say(diff or "no difference: the running proxy has the candidate already")
    test = check_candidate(first, layout, candidate)
    if not test.ok:
        transcript.say(*explain_test_failure(test, environments))
        transcript.say(
            f"deploy refused: nginx -t failed inside {first.name} ({test.nginx_version}); "
            "the live config is untouched and still serving"
        )
        return False
    transcript.say(
        f"nginx -t passed inside {first.name} ({test.nginx_version}): real certificates, "
        "htpasswd files and includes"
    )
    if dry_run:
        transcript.say("dry run: nothing changed")
        return True
    swap_in(first, layout, candidate)
    problems: list[str] = []
    for proxy in proxies:
        task = _task(proxy, proxies)
        outcome = reload(proxy, layout, candidate)
        problems += [f"{task}{problem}" for problem in outcome.problems]
        if not outcome.took:
            # The tasks after it keep the previous config in memory; the restore reloads all.
            break
        transcript.say(f"{task}reloaded: {layout.live_path} is live ({digest(candidate)})")
        results = [probe(proxy, target) for target in targets]
        transcript.say(*(f"{task}{result}" for result in results))
        broken = [result for result in results if result.verdict == "broken"]
        problems += [f"{task}probe: {result}" for result in broken]
    if not problems:
        return True
    transcript.say(*(f"failed: {problem}" for problem in problems))
    restore(proxies, layout, previous, transcript)
    return False


def _task(proxy: ProxyContainer, proxies: Sequence[ProxyContainer]) -> str:
    """Which task a line is about, when there are several."""
    return f"{proxy.name}: " if len(proxies) > 1 else ""


def restore(
    proxies: Sequence[ProxyContainer],
    layout: LiveLayout,
    previous: str | None,
    transcript: Transcript,
) -> None:
    first = proxies[0]
    if previous is None:
        first.run(["rm", "-f", layout.live_path])
    else:
        swap_in(first, layout, previous)
    failed = []
    for proxy in proxies:
        outcome = reload(proxy, layout, previous)
        if not outcome.took:
            failed.append(proxy)
            transcript.say(
                f"{_task(proxy, proxies)}rollback FAILED as well: " + "; ".join(outcome.problems),
                f"inspect the container {proxy.name} now (docker logs {proxy.name})",
            )
    if not failed:
        where = f" in all {len(proxies)} tasks" if len(proxies) > 1 else ""
        transcript.say(
            f"rolled back: the previous config is serving again{where} ({layout.live_path})"
        )


def record_version(
    proxy: ProxyContainer,
    layout: LiveLayout,
    previous: str | None,
    candidate: str,
    keep: int,
    moment: datetime.datetime,
    transcript: Transcript,
) -> None:
    """Keep the candidate (and, on a first deploy, what was there before) as versions."""
    kept = kept_versions(proxy, layout)
    if previous is not None and previous != candidate and version_of(kept, previous) is None:
        save_version(proxy, layout, previous, moment - datetime.timedelta(seconds=1))
    name = version_of(kept, candidate)
    if name is None or name != (kept[0] if kept else None):
        name = save_version(proxy, layout, candidate, moment)
    removed = prune_versions(proxy, layout, keep)
    transcript.say(
        f"version {name} kept in {layout.versions_directory}"
        + (f" ({len(removed)} older removed, --keep {keep})" if removed else "")
    )


def locate(proxy: ProxyContainer, output: str) -> LiveLayout:
    return find_layout(proxy.mounts(), conf_d_name(Path(output).name), proxy.is_directory)


def find_proxies(
    container: str | None, compose_service: str | None, swarm_service: str | None
) -> list[ProxyContainer]:
    """The proxy container, or every running task of the proxy's Swarm service on this host."""
    if swarm_service is None:
        return [find_proxy(connect(), container, compose_service)]
    if container or compose_service:
        raise UsageError("give one of --container, --compose-service and --swarm-service")
    return find_service_tasks(connect(), swarm_service)


def locate_shared(proxies: Sequence[ProxyContainer], output: str) -> LiveLayout:
    """The live layout of one container, or the one every task shares; `Refused` otherwise."""
    return shared_layout({proxy.name: locate(proxy, output) for proxy in proxies})


def deploy(
    container: str | None,
    compose_service: str | None,
    dry_run: bool,
    keep: int,
    environments: Path | None,
    settings_file: Path | None,
    now: datetime.datetime | None = None,
    swarm_service: str | None = None,
) -> Report:
    project = open_project(settings_file, environments)
    generated = generate(project.directory, project.settings)
    transcript = Transcript()
    try:
        if swarm_service is not None and not (container or compose_service):
            client, target = connect(), config_target(project.settings.output)
            if uses_config(client, swarm_service, target):
                outcome = deploy_to_service(
                    client,
                    swarm_service,
                    generated.text,
                    target=target,
                    keep=keep,
                    say=transcript.say,
                    dry_run=dry_run,
                )
                return transcript.report(EXIT_OK if outcome.ok else EXIT_FINDINGS)
        proxies = find_proxies(container, compose_service, swarm_service)
        if swarm_service is not None:
            names = ", ".join(proxy.name for proxy in proxies)
            transcript.say(f"service {swarm_service}: {len(proxies)} running task(s): {names}")
        layout = locate_shared(proxies, project.settings.output)
        previous = proxies[0].read_text(layout.live_path)
        ok = apply(
            proxies,
            layout,
            generated.text,
            probe_targets(generated),
            generated.plan.environments,
            transcript,
            dry_run=dry_run,
        )
        if ok and not dry_run:
            moment = now or datetime.datetime.now(datetime.UTC)
            record_version(proxies[0], layout, previous, generated.text, keep, moment, transcript)
            transcript.say(f"deployed to {', '.join(proxy.name for proxy in proxies)}")
    except Refused as refused:
        transcript.say(f"deploy refused: {refused}")
        return transcript.report(EXIT_FINDINGS)
    return transcript.report(EXIT_OK if ok else EXIT_FINDINGS)


__all__ = [
    "DEFAULT_KEEP",
    "ProbeResult",
    "apply",
    "deploy",
    "find_proxies",
    "locate",
    "locate_shared",
]
