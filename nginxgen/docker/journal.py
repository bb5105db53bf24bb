"""The deploy journal: a file in the live directory's state directory
(`deployed/.nginxgen/deploy-journal.json`) that exists exactly while a deploy's critical section
(swap, reload, verify, probe, restore, record) runs. Signals wait for that section and exceptions
restore, so the file is left behind only when the process was killed outright (SIGKILL, a lost
host): the next deploy, rollback or status then knows that the file on disk may not be what
nginx serves, at which step it stopped, and how to settle it.

The journal lives beside the live file (not on the machine that ran nginxgen): whoever deploys
next, from wherever, finds it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from nginxgen.docker.live import LiveLayout, digest
from nginxgen.docker.proxy import ProxyContainer

# The steps of the critical section as the journal names them: before the rename, after it
# (reloading, verifying, probing, keeping the version), putting the previous file back.
STEPS = ("swap", "reload", "restore")


@dataclass(frozen=True)
class Journal:
    """What a deploy was doing: `step`, and the live file's content before it (`previous`, a
    digest; None when there was none) and the candidate's."""

    step: str
    previous: str | None
    candidate: str
    previous_version: str | None
    started: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Journal:
        try:
            data = json.loads(text)
            return cls(
                step=str(data["step"]),
                previous=None if data["previous"] is None else str(data["previous"]),
                candidate=str(data["candidate"]),
                previous_version=None
                if data.get("previous_version") is None
                else str(data["previous_version"]),
                started=str(data.get("started", "")),
            )
        except (ValueError, KeyError, TypeError):
            return cls("unknown (unreadable journal)", None, "?", None, "")

    def at(self, step: str) -> Journal:
        return Journal(step, self.previous, self.candidate, self.previous_version, self.started)

    def explain(self, live_text: str | None, container: str) -> str:
        """Where a proxy stands after this deploy was cut off, and how to settle it."""
        on_disk = (
            "no live file" if live_text is None else f"the file on disk is {digest(live_text)}"
        )
        which = (
            "the candidate"
            if live_text is not None and digest(live_text) == self.candidate
            else "the previous config"
            if live_text is not None and digest(live_text) == self.previous
            else "neither"
        )
        back = (
            f"`nginxgen rollback --to {self.previous}` goes back to the config before it"
            if self.previous_version
            else "`nginxgen rollback` goes back to a kept version"
        )
        return (
            f"a deploy was interrupted at step {self.step} (started {self.started}; candidate "
            f"{self.candidate}, previous {self.previous or 'none'}): {on_disk} ({which}), and "
            f"nginx in {container} may still serve another config. Settle it: `nginxgen deploy` "
            f"tests and puts out/ in again, or {back}; either ends with nginx serving exactly "
            "the file on disk and removes the journal"
        )


def begin(
    previous: str | None, candidate: str, previous_version: str | None, started: str
) -> Journal:
    return Journal(
        STEPS[0],
        None if previous is None else digest(previous),
        digest(candidate),
        previous_version,
        started,
    )


def write(proxy: ProxyContainer, layout: LiveLayout, journal: Journal) -> None:
    """One round trip: the state directory exists (the candidate's test staged there)."""
    proxy.write_files(
        layout.state_directory,
        {layout.journal_path.rsplit("/", 1)[1]: journal.to_json().encode("utf-8")},
    )


def read(proxy: ProxyContainer, layout: LiveLayout) -> Journal | None:
    text = proxy.read_text(layout.journal_path)
    return None if text is None else Journal.from_json(text)


def clear(proxy: ProxyContainer, layout: LiveLayout) -> None:
    proxy.run(["rm", "-f", layout.journal_path])
