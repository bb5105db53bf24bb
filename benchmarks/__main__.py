"""Run every benchmark and print its figures: `python -m benchmarks` (docs/performance.md).

    python -m benchmarks [--quick] [--only proxy,scale,cli,check,churn,swarm,certs]

--quick shortens the proxy rounds (1 round of 2 s), the churn scenarios (one case of 10 s each)
and the run counts, for a smoke run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from benchmarks import (
    certificates,
    check_latency,
    churn,
    cli_latency,
    generator_scale,
    proxy,
    swarm,
)

BENCHMARKS: dict[str, tuple[Callable[[list[str]], int], list[str], list[str]]] = {
    # name: (main, arguments, --quick arguments)
    "scale": (generator_scale.main, [], ["--sizes", "1,10,100"]),
    "cli": (cli_latency.main, [], ["--runs", "3"]),
    "check": (check_latency.main, [], ["--runs", "2"]),
    "proxy": (proxy.main, [], ["--rounds", "1", "--duration", "2"]),
    "churn": (churn.main, [], ["--duration", "10", "--cases", "empty"]),
    "swarm": (swarm.main, [], ["--updates", "1"]),
    "certs": (certificates.main, [], ["--rounds", "1"]),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default=",".join(BENCHMARKS))
    options = parser.parse_args(argv)
    chosen = [name.strip() for name in options.only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    failed = []
    for name in chosen:
        run, arguments, quick = BENCHMARKS[name]
        print(f"## {name}\n", flush=True)
        if run(quick if options.quick else arguments) != 0:
            failed.append(name)
        print(flush=True)
    if failed:
        print(f"benchmarks that could not run: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
