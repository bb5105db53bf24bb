"""`nginxgen test`: the rendered output in a real nginx, real requests, compared with the tests.

One nginx (the `check` image) with the output and placeholder certificates, one echo backend for
every service (see `nginxgen.routetest.stack`); the cases are the files' `tests:` and the implicit
ones (`nginxgen.routetest.cases`). With `chaos`, nginx first starts with every service down,
then with each service down in turn, before the run with everything up.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from nginxgen.commands.project import open_project, resolve_image
from nginxgen.commands.result import EXIT_FINDINGS, EXIT_OK, Report, json_report
from nginxgen.core.formats import AnnotatedFormat
from nginxgen.generation.pipeline import Generated, generate
from nginxgen.nginx.sandbox import NginxDidNotStart
from nginxgen.routetest.cases import Case, all_cases, with_hosts_down
from nginxgen.routetest.client import send
from nginxgen.routetest.compare import Outcome, compare
from nginxgen.routetest.report import Phase, Run, format_github, format_text, run_document
from nginxgen.routetest.stack import TestStack, open_stack, probe_host, services


@dataclass
class Timing:
    """Where the time went, for stderr: nothing here is compared or asserted."""

    stack_seconds: float = 0.0
    nginx_starts: int = 0
    nginx_seconds: float = 0.0
    requests: int = 0
    request_seconds: float = 0.0
    removal_seconds: float = 0.0

    def __str__(self) -> str:
        each = self.request_seconds / self.requests * 1000 if self.requests else 0.0
        return (
            f"timing: networks and containers {self.stack_seconds:.2f} s, "
            f"nginx started {self.nginx_starts}x in {self.nginx_seconds:.2f} s, "
            f"{self.requests} requests in {self.request_seconds:.2f} s ({each:.1f} ms each), "
            f"removal {self.removal_seconds:.2f} s\n"
        )


def run_cases(stack: TestStack, ports: dict[int, int], cases: Sequence[Case]) -> list[Outcome]:
    hosts = stack.hosts_by_address()
    outcomes = []
    for case in cases:
        observed = send(
            case.request, ports, case.headers, case.auth, case.body_size, case.client_certificate
        )
        outcomes.append(compare(case, observed, hosts))
    return outcomes


def _phases(generated: Generated, hosts: set[str], chaos: bool) -> list[tuple[str, frozenset[str]]]:
    """Each start of nginx: its name and the service hosts down. With `chaos`, first every
    service down, then each service (its hosts) down in turn; last, everything up."""
    steps: list[tuple[str, frozenset[str]]] = []
    if chaos:
        steps.append(("every service down", frozenset(hosts)))
        for ref in services(generated):
            down = frozenset(ref.addresses)
            if all(seen != down for _, seen in steps):
                steps.append((f"{', '.join(sorted(down))} down", down))
    steps.append(("every service up", frozenset()))
    return steps


def route_test(
    environments: Path | None,
    image: str | None,
    settings_file: Path | None,
    output_format: AnnotatedFormat,
    chaos: bool,
) -> Report:
    project = open_project(settings_file, environments)
    generated = generate(project.directory, project.settings)
    plan = generated.plan
    cases = all_cases(generated.environments, plan.default_http, plan.default_https)
    chosen = resolve_image(image, project.settings)
    headers = {name for case in cases for name, _ in case.expect.received_headers}
    timing = Timing()
    phases: list[Phase] = []
    started = time.monotonic()
    with open_stack(generated, project.settings, chosen, headers) as stack:
        timing.stack_seconds = time.monotonic() - started
        for name, down in _phases(generated, set(stack.hosts), chaos):
            stack.set_up_hosts(set(stack.hosts) - down)
            begun = time.monotonic()
            try:
                ports = stack.start_nginx(probe_host(generated))
            except NginxDidNotStart as error:
                raise NginxDidNotStart(f"{name}: {error}") from None
            timing.nginx_starts += 1
            timing.nginx_seconds += time.monotonic() - begun
            phase_cases = with_hosts_down(cases, down) if down else cases
            begun = time.monotonic()
            outcomes = run_cases(stack, ports, phase_cases)
            timing.request_seconds += time.monotonic() - begun
            timing.requests += len(phase_cases)
            phases.append(Phase(name, tuple(outcomes)))
        version = stack.nginx_version()
        removal_started = time.monotonic()
    timing.removal_seconds = time.monotonic() - removal_started
    run = Run(version, chosen, tuple(phases))
    exit_code = EXIT_OK if run.passed else EXIT_FINDINGS
    if output_format is AnnotatedFormat.json:
        return json_report(run_document(run), exit_code, str(timing))
    if output_format is AnnotatedFormat.github:
        return Report(exit_code, format_github(run), str(timing))
    return Report(exit_code, format_text(run), str(timing))
