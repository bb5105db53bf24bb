"""How errors reach the user: one line per message, further lines only where nginxgen composes
them, and binary standard input refused with exit 2 by a real process (not only CliRunner,
whose stdin decodes differently from a terminal's under a C locale)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nginxgen.core.errors import NginxgenError, UsageError

# The console script pip installed beside this interpreter: the program users run.
NGINXGEN = [str(Path(sys.executable).with_name("nginxgen"))]


def test_a_value_cannot_add_a_line_to_a_message() -> None:
    error = UsageError("cannot read /tmp/a\nb\x1b[31m")
    assert str(error) == "cannot read /tmp/a\\nb\\x1b[31m"


def test_details_keep_their_lines_each_escaped() -> None:
    error = NginxgenError("nginx did not start:", details="[emerg] one\n[emerg] two\u202e")
    assert str(error).splitlines() == ["nginx did not start:", "[emerg] one", "[emerg] two\\u202e"]


@pytest.mark.parametrize("command", [["lint", "-"], ["import", "-", "--dry-run"]])
@pytest.mark.parametrize("locale", ["C", "C.UTF-8"])
def test_binary_stdin_is_exit_2(command: list[str], locale: str, tmp_path: Path) -> None:
    environment = {**os.environ, "LC_ALL": locale, "LANG": locale, "PYTHONIOENCODING": ""}
    environment.pop("PYTHONIOENCODING")
    completed = subprocess.run(
        [*NGINXGEN, *command],
        input=b"events {}\n\x00\xff\xfe",
        capture_output=True,
        cwd=tmp_path,
        env=environment,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2, completed.stderr
    assert b"not UTF-8" in completed.stderr
    assert b"internal error" not in completed.stderr


def test_a_config_path_that_is_not_a_file_says_what_it_is(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.conf"
    os.mkfifo(fifo)
    for path, said in ((tmp_path, "a directory"), (fifo, "a named pipe (FIFO)")):
        completed = subprocess.run(
            [*NGINXGEN, "import", str(path), "--dry-run"],
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert completed.returncode == 2, completed.stderr
        assert f"cannot read: {said}, not a file".encode() in completed.stderr
