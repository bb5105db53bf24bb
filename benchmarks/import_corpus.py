"""How many configs of the import corpus `nginxgen import` turns into environment files.

The corpus (`benchmarks/import_corpus/`) holds configs written in the shapes public projects
use: compose samples, self-hosted apps, homelab proxies, certbot's layout, envsubst templates.
Each file is one input; a `.template` file's `NAME.vars` beside it gives its `--var NAME=VALUE`
lines. A measure, not a test: it prints, per config, the exit code, the environments written
and the directives left, then the totals.

    .venv/bin/python benchmarks/import_corpus.py [--verbose]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from nginxgen.commands.import_ import import_config
from nginxgen.core.errors import NginxgenError
from nginxgen.core.formats import OutputFormat

CORPUS = Path(__file__).resolve().parent / "import_corpus"


def inputs() -> list[Path]:
    return sorted(
        path
        for path in CORPUS.iterdir()
        if path.is_file() and path.name.endswith((".conf", ".template"))
    )


def variables_of(config: Path) -> list[str]:
    file = config.with_name(config.name + ".vars")
    if not file.is_file():
        return []
    return [line for line in file.read_text(encoding="utf-8").splitlines() if "=" in line]


def run(config: Path) -> tuple[str, int, int, str]:
    """(outcome, environments, directives left, first line of the report or error)."""
    with tempfile.TemporaryDirectory(prefix="nginxgen-corpus-") as into:
        try:
            report = import_config(
                str(config),
                Path(into),
                dry_run=False,
                output_format=OutputFormat.text,
                variables=variables_of(config),
            )
        except NginxgenError as error:
            return f"exit {error.exit_code}", 0, 0, str(error).splitlines()[0]
        except Exception as error:  # a crash is what this measure must show, not hide
            return "crash", 0, 0, f"{type(error).__name__}: {error}"
        written = len(list((Path(into) / "environments").glob("*.yaml")))
        left = report.stdout.count("\n  ") if "not converted:" in report.stdout else 0
        verdict = report.stdout.rstrip("\n").rsplit("\n", 1)[-1]
        return f"exit {report.exit_code}", written, left, verdict


def main(verbose: bool) -> int:
    rows = [(config.name, *run(config)) for config in inputs()]
    width = max(len(name) for name, *_ in rows)
    for name, outcome, environments, _, text in rows:
        line = f"{name:<{width}}  {outcome:<7} {environments} environment(s)"
        print(line + (f"  {text}" if verbose or not environments else ""))
    converted = sum(1 for _, outcome, environments, _, _ in rows if environments)
    complete = sum(1 for _, outcome, *_ in rows if outcome == "exit 0")
    crashes = sum(1 for _, outcome, *_ in rows if outcome == "crash")
    print(
        f"\n{converted} of {len(rows)} configs became environment files; "
        f"{complete} converted completely (exit 0); {crashes} crash(es)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main("--verbose" in sys.argv[1:]))
