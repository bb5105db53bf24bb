"""Check latency: `nginxgen check` on this repository, Docker and local engines.

The Docker engine uses an image already on the machine (nothing is pulled); the local engine
the host's nginx. Each run is a new process, as in CI. Figures are printed, never asserted.

    python -m benchmarks.check_latency [--runs 5] [--image nginxgen-test/nginx:trixie]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys

from benchmarks.cli_latency import REPOSITORY, nginxgen_command, run_once

DEFAULT_IMAGE = "nginxgen-test/nginx:trixie"  # nginx 1.26, the version nginxgen.yaml targets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--image", default=DEFAULT_IMAGE)
    options = parser.parse_args(argv)
    if not 1 <= options.runs <= 50:
        parser.error("--runs must be 1..50")
    engines = {
        f"docker ({options.image})": ["check", "--engine", "docker", "--image", options.image],
    }
    if shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin"):
        binary = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin") or "nginx"
        engines["local (host nginx)"] = ["check", "--engine", "local", "--nginx-binary", binary]
    print(f"check latency: `nginxgen check` in {REPOSITORY.name}, {options.runs} runs per engine")
    print()
    print("| engine | median ms | min ms | max ms | exit codes |")
    print("| --- | ---: | ---: | ---: | --- |")
    for name, arguments in engines.items():
        command = nginxgen_command(arguments)
        run_once(command)  # warm-up: page cache, and Docker's image layers
        results = [run_once(command) for _ in range(options.runs)]
        times = [seconds for seconds, _, _ in results]
        codes = ", ".join(str(code) for code in sorted({code for _, code, _ in results}))
        print(
            f"| {name} | {statistics.median(times) * 1000:.0f} | {min(times) * 1000:.0f} | "
            f"{max(times) * 1000:.0f} | {codes} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
