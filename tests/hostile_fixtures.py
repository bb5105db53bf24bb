"""Shared by the hostile-input tests (test_config_hardening.py, test_config.py): a dump's main
file, and a private temporary directory checked empty afterwards."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

MAIN = "# configuration file /etc/nginx/nginx.conf:\nevents {}\nhttp { include conf.d/*.conf; }\n"


def private_temporary_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Temporary directories are made in `tmp_path/temp`; afterwards it must be empty again."""
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    try:
        yield temp
    finally:
        assert list(temp.iterdir()) == [], "a temporary directory was left behind"
