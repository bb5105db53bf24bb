"""Deploy and rollback into the live proxy: the algorithm, as one function of the live-proxy
system ("put this candidate text into these proxies") returning a typed `Outcome`.

Steps: find the proxy (`find_proxies`) and its live directory (`locate_shared`); test the
candidate inside the live container; then the critical section: keep the previous file as a
version, write the journal, swap by rename, reload and verify in each container, probe; on any
failure put the previous file back, reload and verify again; keep the candidate as a version;
remove the journal. The section is finished or undone whatever happens: SIGINT and SIGTERM
received meanwhile are deferred until it ends (then reported: the command exits 130), an
exception restores the previous file before it propagates, and only a kill that Python never
sees leaves the journal behind (`journal.py`).

What a step's output means is decided in `live.py`; how nginx runs in the container is
`operations.py`. Lines that say what was found go to the `Transcript` (the command's result);
lines that say what is being done go to `progress` as they happen.
"""

from __future__ import annotations

import datetime
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType, TracebackType
from typing import Literal

from docker import DockerClient

from nginxgen.core.facts import conf_d_name
from nginxgen.docker import journal
from nginxgen.docker.live import (
    LiveLayout,
    ProbeTarget,
    digest,
    find_layout,
    shared_layout,
    unified_diff,
    version_of,
    versions,
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
from nginxgen.docker.selection import BySwarmService, ProxySelection
from nginxgen.docker.swarm import find_service_tasks

Progress = Callable[[str], None]
State = Literal["deployed", "tested", "refused", "rolled back", "restore failed", "interrupted"]
# A test hook: pause at the named step (`tested`, `swapped`, `reloaded`, `probed`, `restoring`)
# for NGINXGEN_TEST_PAUSE_SECONDS, so a test can send a real signal there.
PAUSE_VARIABLE = "NGINXGEN_TEST_PAUSE_AT"
PAUSE_SECONDS_VARIABLE = "NGINXGEN_TEST_PAUSE_SECONDS"
DEFERRED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def quiet(_: str) -> None:
    """The progress channel of a caller that shows none."""


@dataclass
class Transcript:
    """What a deploy found, line by line: the command's result."""

    lines: list[str] = field(default_factory=list)

    def say(self, *texts: str) -> None:
        self.lines += [text.rstrip("\n") for text in texts if text]

    @property
    def text(self) -> str:
        return "".join(f"{line}\n" for line in self.lines)


@dataclass(frozen=True)
class Outcome:
    """How a deploy or rollback ended: `state`, where the proxy stands (`where`, one sentence
    that names the state), and the signal that arrived meanwhile (`signal`, e.g. SIGINT)."""

    state: State
    where: str
    signal: str | None = None

    @property
    def ok(self) -> bool:
        return self.state in ("deployed", "tested")


@dataclass(frozen=True)
class Recording:
    """Keep the deployed candidate as a version, pruning beyond `keep`."""

    keep: int
    moment: datetime.datetime


class Interrupted(Exception):
    """A signal arrived outside the critical section: nothing had changed yet."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.signal = name


class Interruptions:
    """SIGINT and SIGTERM while active: before the critical section they raise `Interrupted`
    (nothing changed yet); from its start (`defer`) they are kept in `pending`, reported once
    the deploy has ended. Only the main thread receives signals; elsewhere this changes nothing."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.pending: str | None = None
        self._deferring = False
        self._previous: dict[int, object] = {}

    def __enter__(self) -> Interruptions:
        if threading.current_thread() is threading.main_thread():
            for number in DEFERRED_SIGNALS:
                # An ignored signal (nohup, a background job's SIGINT) stays ignored.
                if signal.getsignal(number) is not signal.SIG_IGN:
                    self._previous[number] = signal.signal(number, self._receive)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)  # type: ignore[arg-type]

    def _receive(self, number: int, _: FrameType | None) -> None:
        name = signal.Signals(number).name
        if not self._deferring:
            raise Interrupted(name)
        self.pending = name
        self.progress(
            f"{name} received: finishing the swap first (reload, verify, or restore), so the "
            "proxy is not left between two configs"
        )

    def defer(self) -> None:
        """From now until the end: the critical section starts, and once the live file may have
        changed no signal may turn into an exception that would report "before any change"."""
        self._deferring = True


def pause(step: str, progress: Progress) -> None:
    if os.environ.get(PAUSE_VARIABLE) != step:
        return
    progress(f"paused at {step} ({PAUSE_VARIABLE})")
    deadline = time.monotonic() + float(os.environ.get(PAUSE_SECONDS_VARIABLE, "5"))
    # A deferred signal ends a sleep early; the loop keeps the pause as long as asked.
    while time.monotonic() < deadline:
        time.sleep(0.05)


def find_proxies(
    selection: ProxySelection, client: DockerClient | None = None
) -> list[ProxyContainer]:
    """The proxy container, or every running task of the proxy's Swarm service on this host."""
    docker = client or connect()
    if isinstance(selection, BySwarmService):
        return find_service_tasks(docker, selection.service)
    return [find_proxy(docker, selection)]


def render_directory(output: str) -> str:
    """The directory `render` writes, as a path on this machine (and so on a local Docker host)."""
    return str(Path(output).parent.resolve())


def locate(
    proxy: ProxyContainer, output: str, *, refuse_render_directory: bool = True
) -> LiveLayout:
    """The live layout of `proxy`; `Refused` for a single-file mount, a read-only one, none, or
    `output`'s directory (what `render` writes) mounted as conf.d."""
    return find_layout(
        proxy.mounts(),
        conf_d_name(Path(output).name),
        proxy.is_directory,
        render_directory(output) if refuse_render_directory else None,
    )


def locate_shared(proxies: Sequence[ProxyContainer], output: str) -> LiveLayout:
    """The live layout of one container, or the one every task shares; `Refused` otherwise."""
    return shared_layout({proxy.name: locate(proxy, output) for proxy in proxies})


def _task(proxy: ProxyContainer, proxies: Sequence[ProxyContainer]) -> str:
    """Which task a line is about, when there are several."""
    return f"{proxy.name}: " if len(proxies) > 1 else ""


def _untested(test: CandidateTest) -> list[str]:
    return [test.output.strip()]


def apply(
    proxies: Sequence[ProxyContainer],
    layout: LiveLayout,
    candidate: str,
    transcript: Transcript,
    *,
    targets: Sequence[ProbeTarget] = (),
    explain: Callable[[CandidateTest], list[str]] = _untested,
    recording: Recording | None = None,
    dry_run: bool = False,
    progress: Progress = quiet,
) -> Outcome:
    """Test `candidate` in the live container, then swap, reload, verify and probe; restore on
    failure. `proxies` share `layout`'s directory (one container, or a Swarm service's tasks on
    one node): tested and swapped in the first, reloaded, verified and probed in each."""
    interruptions = Interruptions(progress)
    with interruptions:
        try:
            outcome = _apply(
                proxies,
                layout,
                candidate,
                transcript,
                interruptions,
                targets=targets,
                explain=explain,
                recording=recording,
                dry_run=dry_run,
            )
        except Interrupted as interrupted:
            outcome = Outcome(
                "interrupted",
                "stopped before any change: the live config is untouched and still serving",
                interrupted.signal,
            )
    return replace(outcome, signal=outcome.signal or interruptions.pending)


def _apply(
    proxies: Sequence[ProxyContainer],
    layout: LiveLayout,
    candidate: str,
    transcript: Transcript,
    interruptions: Interruptions,
    *,
    targets: Sequence[ProbeTarget],
    explain: Callable[[CandidateTest], list[str]],
    recording: Recording | None,
    dry_run: bool,
) -> Outcome:
    progress = interruptions.progress
    first = proxies[0]
    previous = first.read_text(layout.live_path)
    unfinished = journal.read(first, layout)
    if unfinished is not None:
        transcript.say(f"earlier: {unfinished.explain(previous, first.name)}")
    if dry_run:
        diff = unified_diff(
            previous or "",
            candidate,
            f"{layout.live_path} (running in {first.name})",
            f"{layout.name} (candidate)",
        )
        transcript.say(diff or "no difference: the running proxy has the candidate already")
    progress(f"testing the candidate inside {first.name} (nginx -t with its real files)…")
    test = check_candidate(first, layout, candidate)
    if not test.ok:
        transcript.say(*explain(test))
        transcript.say(
            f"refused: nginx -t failed inside {first.name} ({test.nginx_version}); "
            "the live config is untouched and still serving"
        )
        return Outcome("refused", "refused: the live config is untouched and still serving")
    transcript.say(
        f"nginx -t passed inside {first.name} ({test.nginx_version}): real certificates, "
        "htpasswd files and includes"
    )
    if dry_run:
        transcript.say("dry run: nothing changed")
        return Outcome("tested", "tested, dry run: nothing changed")
    pause("tested", progress)
    interruptions.defer()
    return _critical_section(
        proxies, layout, previous, candidate, transcript, progress, targets, recording
    )


def _critical_section(
    proxies: Sequence[ProxyContainer],
    layout: LiveLayout,
    previous: str | None,
    candidate: str,
    transcript: Transcript,
    progress: Progress,
    targets: Sequence[ProbeTarget],
    recording: Recording | None,
) -> Outcome:
    first = proxies[0]
    moment = recording.moment if recording else datetime.datetime.now(datetime.UTC)
    kept = kept_versions(first, layout)
    previous_version = keep_previous(first, layout, previous, candidate, moment, kept)
    entry = journal.begin(previous, candidate, previous_version, moment.isoformat())
    journal.write(first, layout, entry)
    try:
        progress(f"swapping the candidate into {layout.live_path} (one rename)…")
        swap_in(first, layout, candidate)
        pause("swapped", progress)
        journal.write(first, layout, entry.at("reload"))
        problems = _reload_and_probe(proxies, layout, candidate, transcript, progress, targets)
        if problems:
            transcript.say(*(f"failed: {problem}" for problem in problems))
            journal.write(first, layout, entry.at("restore"))
            if restore(proxies, layout, previous, transcript, progress):
                journal.clear(first, layout)
                return Outcome("rolled back", "rolled back: the previous config is serving again")
            # The journal stays: nginx may not serve the file on disk, and status says so.
            return Outcome(
                "restore failed",
                f"restore failed: the previous config is on disk, nginx in {first.name} may "
                "serve another; `nginxgen status` says how to settle it",
            )
        pause("probed", progress)
        if recording is not None:
            record_version(first, layout, candidate, recording, transcript, kept)
        journal.clear(first, layout)
    except BaseException as error:
        progress(f"{type(error).__name__} during the deploy: putting the previous config back…")
        if restore(proxies, layout, previous, transcript, progress):
            journal.clear(first, layout)
        raise
    names = ", ".join(proxy.name for proxy in proxies)
    return Outcome(
        "deployed", f"deployed: the candidate ({digest(candidate)}) is on disk and live in {names}"
    )


def _reload_and_probe(
    proxies: Sequence[ProxyContainer],
    layout: LiveLayout,
    candidate: str,
    transcript: Transcript,
    progress: Progress,
    targets: Sequence[ProbeTarget],
) -> list[str]:
    problems: list[str] = []
    for proxy in proxies:
        task = _task(proxy, proxies)
        progress(f"{task}reloading nginx in {proxy.name} and waiting for the new workers…")
        outcome = reload(proxy, layout, candidate)
        problems += [f"{task}{problem}" for problem in outcome.problems]
        if not outcome.took:
            # The tasks after it keep the previous config in memory; the restore reloads all.
            break
        transcript.say(f"{task}reloaded: {layout.live_path} is live ({digest(candidate)})")
        pause("reloaded", progress)
        if targets:
            progress(f"{task}probing {len(targets)} site address(es) from inside {proxy.name}…")
        results = [probe(proxy, target) for target in targets]
        transcript.say(*(f"{task}{result}" for result in results))
        problems += [f"{task}probe: {result}" for result in results if result.verdict == "broken"]
    return problems


def restore(
    proxies: Sequence[ProxyContainer],
    layout: LiveLayout,
    previous: str | None,
    transcript: Transcript,
    progress: Progress = quiet,
) -> bool:
    """The previous file (None: no file) back into place, every proxy reloaded and verified.
    True when the previous config serves everywhere again."""
    first = proxies[0]
    progress(f"restoring the previous {layout.live_path}…")
    if previous is None:
        first.run(["rm", "-f", layout.live_path])
    else:
        swap_in(first, layout, previous)
    pause("restoring", progress)
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
        line = f"rolled back: the previous config is serving again{where} ({layout.live_path})"
        transcript.say(line)
        # Also as it happens: when an exception follows, the transcript is never printed.
        progress(line)
    return not failed


def keep_previous(
    proxy: ProxyContainer,
    layout: LiveLayout,
    previous: str | None,
    candidate: str,
    moment: datetime.datetime,
    kept: list[str],
) -> str | None:
    """The kept version of the file about to be replaced, kept now if it was not (a first
    deploy, or a file put there by hand), so a cut-off deploy can always be rolled back.
    `kept` (the versions' names) gains it."""
    if previous is None:
        return None
    name = version_of(kept, previous)
    if name is None and previous != candidate:
        name = save_version(proxy, layout, previous, moment - datetime.timedelta(seconds=1))
        kept[:] = versions([*kept, name])
    return name


def record_version(
    proxy: ProxyContainer,
    layout: LiveLayout,
    candidate: str,
    recording: Recording,
    transcript: Transcript,
    kept: list[str],
) -> None:
    """Keep the candidate as the newest version (unless it is already), prune beyond `keep`."""
    name = version_of(kept, candidate)
    if name is None or name != (kept[0] if kept else None):
        name = save_version(proxy, layout, candidate, recording.moment)
        kept[:] = versions([*kept, name])
    removed = prune_versions(proxy, layout, recording.keep, kept)
    transcript.say(
        f"version {name} kept in {layout.versions_directory}"
        + (f" ({len(removed)} older removed, --keep {recording.keep})" if removed else "")
    )
