"""The last deploy's outcome, kept in the live layout's state directory (`.nginxgen/last-deploy`)
so that `nginxgen status --format openmetrics` can export when it ended and whether it took.
A kept version says only that a deploy succeeded; a failed one leaves no version behind.
"""

from __future__ import annotations

import datetime
import json

from nginxgen.core.openmetrics import DeployFact
from nginxgen.docker.live import LiveLayout
from nginxgen.docker.proxy import ProxyContainer

RECORD_NAME = "last-deploy.json"


def record_deploy(
    proxy: ProxyContainer, layout: LiveLayout, moment: datetime.datetime, succeeded: bool
) -> None:
    document = {"time": moment.isoformat(), "result": "success" if succeeded else "failed"}
    proxy.run(["mkdir", "-p", layout.state_directory])
    proxy.write_files(
        layout.state_directory,
        {RECORD_NAME: (json.dumps(document, sort_keys=True) + "\n").encode()},
        moment.timestamp(),
    )


def last_deploy(proxy: ProxyContainer, layout: LiveLayout) -> DeployFact | None:
    """The recorded last deploy; None when none was recorded (or the record is unreadable)."""
    text = proxy.read_text(f"{layout.state_directory}/{RECORD_NAME}")
    if text is None:
        return None
    try:
        document = json.loads(text)
        moment = datetime.datetime.fromisoformat(document["time"])
        return DeployFact(moment, document["result"] == "success")
    except (ValueError, KeyError, TypeError):
        return None
