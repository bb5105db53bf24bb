"""`nginx -t` with the host's nginx binary, in a temporary prefix directory."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from nginxgen.core.errors import EnvironmentUnavailable
from nginxgen.core.facts import conf_d_name
from nginxgen.nginx.runner import ConfigFile, EngineRun
from nginxgen.nginx.tls_paths import rewrite_tls_paths

LOCAL_TIMEOUT_SECONDS = 60


class LocalEngine:
    """`nginx -t` with the host's nginx binary, in a temporary prefix directory.

    The configs are included from a minimal main config. TLS file paths are absolute paths of the
    production host, so the configs are tested as copies whose paths point at placeholders inside
    the prefix; the run's notes say so.
    """

    def __init__(self, nginx_binary: str = "nginx") -> None:
        self.nginx_binary = nginx_binary

    @property
    def description(self) -> str:
        return f"local nginx binary {self.nginx_binary}"

    def run_test(self, configs: Sequence[ConfigFile], files: Mapping[str, bytes]) -> EngineRun:
        binary = shutil.which(self.nginx_binary)
        if binary is None:
            raise EnvironmentUnavailable(
                f"No nginx binary {self.nginx_binary!r} found on this machine.",
                details="Install nginx (Debian: `apt-get install nginx-light`) or test in "
                "Docker: `nginxgen check --engine docker`.",
            )
        with tempfile.TemporaryDirectory(prefix="nginxgen-check-") as directory:
            prefix = Path(directory)
            replacements = {
                path: str(prefix / "placeholders" / path.lstrip("/")) for path in sorted(files)
            }
            for path, data in files.items():
                target = Path(replacements[path])
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            conf_d = prefix / "conf.d"
            conf_d.mkdir()
            (prefix / "temp").mkdir()
            config_paths = {}
            rewritten = 0
            for config in configs:
                text, count = rewrite_tls_paths(config.text, replacements)
                rewritten += count
                config_path = conf_d / conf_d_name(config.name)
                config_path.write_text(text, encoding="utf-8")
                config_paths[str(config_path)] = config.name
            main_config = prefix / "nginx.conf"
            main_config.write_text(_local_main_config(prefix), encoding="utf-8")
            completed = subprocess.run(
                [
                    binary,
                    "-p",
                    f"{prefix}/",
                    "-c",
                    str(main_config),
                    "-e",
                    "stderr",
                    "-g",
                    f"pid {prefix}/nginx.pid;",
                    "-v",
                    "-t",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=LOCAL_TIMEOUT_SECONDS,
                check=False,
            )
        notes = (
            (
                f"{rewritten} TLS file path(s) were pointed at placeholders in a temporary prefix "
                "(the local engine cannot write to the absolute paths)",
            )
            if rewritten
            else ()
        )
        return EngineRun(completed.returncode, completed.stdout, config_paths, notes)


def _local_main_config(prefix: Path) -> str:
    # Only what nginx needs to run at all, so a fragment's own http-level directives cannot clash
    # with ours; the temporary paths would otherwise be the compiled-in ones under /var.
    temp = prefix / "temp"
    return "\n".join(
        [
            "events {}",
            "http {",
            f"    client_body_temp_path {temp}/client_body;",
            f"    proxy_temp_path {temp}/proxy;",
            f"    fastcgi_temp_path {temp}/fastcgi;",
            f"    uwsgi_temp_path {temp}/uwsgi;",
            f"    scgi_temp_path {temp}/scgi;",
            f"    include {prefix}/conf.d/*.conf;",
            "}",
            "",
        ]
    )
