"""A cold command pays only for what it uses (docs/performance.md, CLI latency).

Each check runs in a fresh interpreter, so modules another test imported do not count. What is
asserted is which modules get imported, not how long anything takes.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("docker", "cryptography", "paramiko", "requests", "urllib3", "crossplane", "jinja2")


def imported_top_level(code: str) -> set[str]:
    listing = "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    program = f"{code}\nimport json, sys\n{listing}"
    completed = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True
    )
    return set(json.loads(completed.stdout.splitlines()[-1]))


def test_importing_the_cli_imports_no_command_s_libraries() -> None:
    found = imported_top_level("import nginxgen.cli")
    assert not found & {*HEAVY, "pydantic", "yaml"}, sorted(found & {*HEAVY, "pydantic", "yaml"})


@pytest.mark.parametrize(
    "modules",
    [
        # render --check: load, plan, render, self-check, drift
        "nginxgen.commands.render, nginxgen.generation.pipeline, nginxgen.generation.selfcheck",
        "nginxgen.commands.validate",
    ],
)
def test_offline_commands_import_no_docker_or_tls_library(modules: str) -> None:
    found = imported_top_level(f"import {modules}")
    assert not found & {"docker", "cryptography", "paramiko", "requests", "urllib3"}
