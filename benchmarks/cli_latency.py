"""CLI latency: a cold `nginxgen render --check` on this repository, what CI pays per commit.

Each run is a new process (interpreter start, imports, load, plan, render, self-check, drift
check). Reports the median and range of several runs, and the imports that cost the most
(`python -X importtime`). Figures are printed, never asserted.

    python -m benchmarks.cli_latency [--runs 10] [--command "render --check"]
"""

from __future__ import annotations

import argparse
import re
import resource
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
TOP_IMPORTS = 10


def nginxgen_command(arguments: list[str]) -> list[str]:
    """The installed `nginxgen` script beside this interpreter, as CI runs it."""
    script = Path(sys.executable).parent / "nginxgen"
    if script.exists():
        return [str(script), *arguments]
    return [sys.executable, "-c", "from nginxgen.cli import main; main()", *arguments]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(command: list[str]) -> tuple[float, int, float]:
    """Wall seconds, exit code and CPU seconds (user + system) of one run. On a shared machine
    the CPU time moves far less than the wall time: it does not count waiting for a core."""
    cpu = _children_cpu()
    start = time.perf_counter()
    completed = subprocess.run(
        command, cwd=REPOSITORY, capture_output=True, timeout=60, check=False
    )
    return time.perf_counter() - start, completed.returncode, _children_cpu() - cpu


def import_times(arguments: list[str]) -> list[tuple[float, str]]:
    """(cumulative seconds, module) of the top-level imports of one run, slowest first."""
    code = (
        "import sys; from nginxgen.cli import main; "
        f"sys.argv = ['nginxgen', *{arguments!r}]; main()"
    )
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    found = []
    for line in completed.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)", line)
        # Depth 0 (no indentation): imports made by the program itself, not nested ones.
        if match and not match.group(3):
            found.append((int(match.group(2)) / 1e6, match.group(4)))
    return sorted(found, reverse=True)


def interpreter_start(runs: int) -> float:
    return statistics.median(run_once([sys.executable, "-c", "pass"])[0] for _ in range(runs))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--command", default="render --check", help="nginxgen arguments")
    options = parser.parse_args(argv)
    if not 1 <= options.runs <= 100:
        parser.error("--runs must be 1..100")
    arguments = shlex.split(options.command)
    command = nginxgen_command(arguments)
    run_once(command)  # warm the file cache and bytecode: "cold" means a new process, not disk
    results = [run_once(command) for _ in range(options.runs)]
    times = [seconds for seconds, _, _ in results]
    cpu = [seconds for _, _, seconds in results]
    codes = sorted({code for _, code, _ in results})
    bare = interpreter_start(options.runs)
    print(f"cli latency: `nginxgen {options.command}` in {REPOSITORY.name}, {options.runs} runs")
    print()
    print("| median ms | min ms | max ms | CPU ms (median) | exit codes | bare interpreter ms |")
    print("| ---: | ---: | ---: | ---: | --- | ---: |")
    print(
        f"| {statistics.median(times) * 1000:.0f} | {min(times) * 1000:.0f} | "
        f"{max(times) * 1000:.0f} | {statistics.median(cpu) * 1000:.0f} | "
        f"{', '.join(map(str, codes))} | {bare * 1000:.0f} |"
    )
    print()
    print("slowest top-level imports (python -X importtime, cumulative):")
    print()
    print("| module | ms |")
    print("| --- | ---: |")
    for seconds, module in import_times(arguments)[:TOP_IMPORTS]:
        print(f"| {module} | {seconds * 1000:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
