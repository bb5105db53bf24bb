"""Generator scale: load, plan, render and self-check for 1 to 1,000 environments, in-process.

Each environment has 5 services and 5 routes. Times come from time.perf_counter (median of
several runs for the small inputs), peak memory from tracemalloc in a separate run (tracing
slows Python down, so it never shares a run with a timing). Rendering is compared with
crossplane building the same output from its parsed form. Figures are printed, never asserted.

    python -m benchmarks.generator_scale [--sizes 1,10,100,1000] [--nginx-version 1.26]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import crossplane

from nginxgen.generation.loader import LoadedEnvironment, load_environments
from nginxgen.generation.models import Settings
from nginxgen.generation.plan import build_plan
from nginxgen.generation.render import render
from nginxgen.generation.selfcheck import check_output

SERVICES = 5
T = TypeVar("T")


def environment_text(index: int) -> str:
    services = "\n".join(
        f"  svc{number}: {{host: app{index}-svc{number}, port: {3000 + number}}}"
        for number in range(SERVICES)
    )
    routes = "\n".join(
        f"  - {{path: /svc{number}/, service: svc{number}}}" for number in range(SERVICES)
    )
    return (
        f"domains: [env{index}.example.com, www.env{index}.example.com]\n"
        f"redirect_to_primary: true\n"
        f"services:\n{services}\nroutes:\n{routes}\n"
    )


def write_environments(directory: Path, count: int) -> None:
    for index in range(count):
        (directory / f"env{index:04d}.yaml").write_text(environment_text(index), encoding="utf-8")


def timed(action: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


@dataclass(frozen=True)
class Row:
    environments: int
    lines: int
    load: float
    plan: float
    render: float
    check: float
    peak_mib: float
    crossplane_build: float

    @property
    def render_and_check(self) -> float:
        return self.render + self.check

    @property
    def total(self) -> float:
        return self.load + self.plan + self.render + self.check


def _median_time(action: Callable[[], Any], repeats: int) -> float:
    return statistics.median(timed(action)[0] for _ in range(repeats))


def _crossplane_payload(text: str, work: Path) -> list[dict[str, Any]]:
    path = work / "rendered.conf"
    path.write_text(text, encoding="utf-8")
    payload = crossplane.parse(str(path), single=True, check_ctx=False, comments=False)
    parsed: list[dict[str, Any]] = payload["config"][0]["parsed"]
    return parsed


def measure(count: int, settings: Settings, work: Path) -> Row:
    directory = work / f"environments-{count}"
    directory.mkdir()
    write_environments(directory, count)
    repeats = 5 if count <= 100 else 3
    loaded: list[LoadedEnvironment] = load_environments(directory)
    plan = build_plan(loaded, settings)
    text = render(plan)
    load = _median_time(lambda: load_environments(directory), repeats)
    plan_time = _median_time(lambda: build_plan(loaded, settings), repeats)
    render_time = _median_time(lambda: render(plan), repeats)
    check = _median_time(lambda: check_output(text, settings.nginx_version), repeats)
    parsed = _crossplane_payload(text, work)
    build = _median_time(lambda: crossplane.build(parsed), repeats)

    tracemalloc.start()
    try:
        render(build_plan(load_environments(directory), settings))
        check_output(text, settings.nginx_version)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return Row(
        environments=count,
        lines=text.count("\n"),
        load=load,
        plan=plan_time,
        render=render_time,
        check=check,
        peak_mib=peak / 2**20,
        crossplane_build=build,
    )


def growth(rows: Sequence[Row], value: Callable[[Row], float]) -> list[str]:
    """Time at 10× the input over time at the input; '–' for the first row."""
    factors = ["–"]
    for previous, current in zip(rows, rows[1:], strict=False):
        scale = current.environments / previous.environments
        factors.append(f"{value(current) / value(previous):.1f}× per {scale:g}×")
    return factors


def report(rows: Sequence[Row], settings: Settings) -> str:
    factors = growth(rows, lambda row: row.render_and_check)
    lines = [
        f"generator scale: {SERVICES} services per environment, nginx_version "
        f"{settings.nginx_version}, strategy {settings.strategy}",
        "",
        "| environments | output lines | load ms | plan ms | render ms | self-check ms "
        "| render + check ms | growth | everything ms | peak MiB | crossplane.build ms "
        "| render ÷ build |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for row, factor in zip(rows, factors, strict=True):
        lines.append(
            f"| {row.environments:,} | {row.lines:,} | {row.load * 1000:.1f} | "
            f"{row.plan * 1000:.1f} | {row.render * 1000:.1f} | {row.check * 1000:.1f} | "
            f"{row.render_and_check * 1000:.1f} | {factor} | {row.total * 1000:.1f} | "
            f"{row.peak_mib:.1f} | {row.crossplane_build * 1000:.1f} | "
            f"{row.render / row.crossplane_build:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="1,10,100,1000")
    parser.add_argument("--nginx-version", default="1.26")
    options = parser.parse_args(argv)
    sizes = [int(size) for size in options.sizes.split(",")]
    if any(not 1 <= size <= 10_000 for size in sizes):
        parser.error("sizes must be 1..10000")
    settings = Settings(nginx_version=options.nginx_version)
    with tempfile.TemporaryDirectory(prefix="nginxgen-scale-") as temporary:
        rows = [measure(size, settings, Path(temporary)) for size in sizes]
    print(report(rows, settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
