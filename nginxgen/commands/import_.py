"""`nginxgen import PATH|-`: environment files from an existing nginx config, with the proof.

Converts (`nginxgen.adopt.convert`), renders the result with the ordinary pipeline, compares it
with the original by meaning (`nginxgen.adopt.compare`), optionally runs both in real nginx
(`--verify`, `nginxgen.adopt.verify`), and writes the files unless `--dry-run` (never over an
existing file). Exit codes: 0 everything converted and the comparison found no difference,
1 something was left or differs (the files are written all the same), 2 bad input.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from nginxgen.adopt.compare import Comparison, compare
from nginxgen.adopt.convert import Conversion, convert
from nginxgen.adopt.template import parse_variable, substitute
from nginxgen.adopt.write import OutputFile, environment_file, existing, settings_file, write_new
from nginxgen.commands.result import EXIT_FINDINGS, EXIT_OK, Report, json_report
from nginxgen.core.errors import ConfigError, InvariantViolation, UsageError
from nginxgen.core.formats import OutputFormat
from nginxgen.core.versions import reported_version
from nginxgen.generation.loader import LoadedEnvironment, validate
from nginxgen.generation.models import Environment, Settings
from nginxgen.generation.pipeline import generate_from
from nginxgen.nginx.config import ParsedConfig, load_path, load_text, read_stdin, split_dump

STDIN_NAME = "<stdin>"
KINDS = (
    ("not converted", "not converted"),
    ("raw", "kept as raw directives"),
    ("note", "converted, with a difference to know"),
    ("main config", "left to nginx.conf (the generated file is included from it)"),
)


@dataclasses.dataclass(frozen=True)
class Imported:
    """Everything `import` found and made, before anything is written."""

    source: str
    input: Input
    conversion: Conversion
    files: tuple[OutputFile, ...]
    rendered: str
    comparison: Comparison

    @property
    def exit_code(self) -> int:
        complete = self.conversion.complete and self.comparison.identical
        return EXIT_OK if complete else EXIT_FINDINGS

    def intended_difference(self) -> str:
        names = ", ".join(self.conversion.static_names)
        if not names:
            return ""
        return (
            f"The original resolves {names} once, at startup: one stopped container stops "
            "nginx. The generated config resolves them through Docker's DNS while nginx runs, "
            "so a stopped container costs only its own routes (502)."
        )


@dataclasses.dataclass(frozen=True)
class Input:
    config: ParsedConfig
    # The original's files by path (a dump's own paths), for --verify.
    texts: dict[str, str]
    nginx_version: str | None


def read_config(
    path: str, stdin: TextIO | None = None, variables: Mapping[str, str] | None = None
) -> Input:
    """The parsed config, its files and, for a dump that says it, the nginx version. Template
    variables are substituted first; one left without a value is exit 2."""
    given = dict(variables or {})
    if path == "-":
        text = _substituted(read_stdin(stdin or sys.stdin), STDIN_NAME, given)
        # `nginx -v -T 2>&1` (or `nginx -V -T`) starts the dump with the version.
        version = reported_version(text)
        sections = dict(split_dump(text)) or {STDIN_NAME: text}
        return Input(
            load_text(text, STDIN_NAME, dump=True),
            sections,
            version[1] if version else None,
        )
    file = Path(path)
    if file.is_file():
        original = file.read_text(encoding="utf-8")
        text = _substituted(original, path, given)
        if text != original:
            return Input(load_text(text, path, dump=False), {path: text}, None)
    config = load_path(file)
    texts = {name: Path(name).read_text(encoding="utf-8") for name in config.files}
    return Input(config, texts, None)


def _substituted(text: str, name: str, variables: dict[str, str]) -> str:
    result, unresolved = substitute(text, variables)
    if unresolved:
        names = sorted({item.name for item in unresolved})
        raise UsageError(
            f"{name}: template variables without a value: {', '.join(names)}; give each as "
            "--var NAME=VALUE",
            details="\n".join(f"  {name}:{item.line}: ${{{item.name}}}" for item in unresolved),
        )
    return result


def import_environments(
    path: str, stdin: TextIO | None = None, variables: Mapping[str, str] | None = None
) -> Imported:
    """Convert, render and compare; raises ConfigParseError (exit 2) on unreadable input."""
    source_input = read_config(path, stdin, variables)
    config = source_input.config
    conversion = convert(config, source_input.nginx_version)
    if not conversion.environments:
        raise UsageError(
            f"{config.name}: no server nginxgen can convert", details=_left(conversion)
        )
    source = config.name
    files = [
        environment_file(name, data, source, _servers(data))
        for name, data in conversion.environments
    ]
    if conversion.settings:
        files.append(settings_file(conversion.settings, source))
    rendered = render_files(files)
    generated = load_text(rendered, "generated", dump=False)
    comparison = compare(config, generated)
    return Imported(source, source_input, conversion, tuple(files), rendered, comparison)


def _servers(data: dict[str, Any]) -> str:
    names = data.get("domains", []) + data.get("redirect_domains", [])
    if data.get("catch_all"):
        return "every name no other environment serves" + (
            f"; domains {', '.join(names)}" if names else ""
        )
    return "domains " + ", ".join(names)


def _left(conversion: Conversion) -> str:
    return "\n".join(f"  {finding}" for finding in conversion.findings)


def render_files(files: list[OutputFile]) -> str:
    """The output `render` would make of these files; they must validate (else a bug here)."""
    settings = Settings()
    environments = []
    try:
        for file in files:
            if file.path.endswith("nginxgen.yaml"):
                settings, _ = validate(Settings, file.text, file.path)
            else:
                model, source = validate(Environment, file.text, file.path)
                environments.append(LoadedEnvironment(Path(file.path).stem, model, source))
        return generate_from(environments, settings).text
    except ConfigError as error:
        raise InvariantViolation(
            "the imported environment files do not validate (a bug in nginxgen import):",
            details=str(error),
        ) from error


def import_config(
    path: str,
    into: Path,
    dry_run: bool,
    output_format: OutputFormat,
    verify: bool = False,
    image: str | None = None,
    stdin: TextIO | None = None,
    variables: Sequence[str] = (),
) -> Report:
    """`variables`: the `--var NAME=VALUE` options."""
    try:
        given = dict(parse_variable(variable) for variable in variables)
    except ValueError as error:
        raise UsageError(str(error)) from None
    imported = import_environments(path, stdin, given)
    files = list(imported.files)
    clashes = existing(into, files)
    if clashes and not dry_run:
        raise UsageError(
            "not overwriting existing files: "
            + ", ".join(str(clash) for clash in clashes)
            + " (import into another directory with --into)"
        )
    verification = None
    if verify:
        from nginxgen.adopt.verify import verify_import

        verification = verify_import(
            imported.input.config, imported.input.texts, imported.rendered, image
        )
    written = [] if dry_run else write_new(into, files)
    exit_code = imported.exit_code
    if verification is not None and not verification.ok:
        exit_code = EXIT_FINDINGS
    if output_format is OutputFormat.json:
        return json_report(_document(imported, into, written, verification), exit_code)
    return Report(exit_code, _text(imported, into, written, dry_run, verification))


def _document(
    imported: Imported, into: Path, written: list[Path], verification: Any
) -> dict[str, Any]:
    return {
        "source": imported.source,
        "files": [
            {
                "path": str(into / file.path),
                "written": (into / file.path) in written,
                "text": file.text,
            }
            for file in imported.files
        ],
        "findings": [dataclasses.asdict(finding) for finding in imported.conversion.findings],
        "comparison": {
            "same": list(imported.comparison.same),
            "differences": [
                {"server": server, "difference": difference}
                for server, difference in imported.comparison.differences
            ],
            "intended_difference": imported.intended_difference(),
        },
        "verify": verification.as_document() if verification is not None else None,
        "complete": imported.exit_code == EXIT_OK,
    }


def _text(
    imported: Imported, into: Path, written: list[Path], dry_run: bool, verification: Any
) -> str:
    out = _file_lines(imported, into, dry_run) + _finding_lines(imported)
    out += _comparison_lines(imported)
    if verification is not None:
        out += ["", *verification.lines()]
    out += ["", _verdict(imported)]
    return "\n".join(out) + "\n"


def _file_lines(imported: Imported, into: Path, dry_run: bool) -> list[str]:
    """What was written, or (dry run) each file's text."""
    out: list[str] = []
    for file in imported.files:
        target = into / file.path
        if dry_run:
            out += [f"--- {target} (would write)", file.text.rstrip("\n"), ""]
        else:
            out.append(f"wrote {target}")
    return out


def _finding_lines(imported: Imported) -> list[str]:
    """The conversion's findings, under a title per kind."""
    out: list[str] = []
    for kind, title in KINDS:
        chosen = [finding for finding in imported.conversion.findings if finding.kind == kind]
        if chosen:
            out += ["", f"{title}:"] + [f"  {finding}" for finding in chosen]
    return out


def _comparison_lines(imported: Imported) -> list[str]:
    comparison = imported.comparison
    out = ["", "compared with the original, by server name and port:"]
    if comparison.same:
        out.append("  same: " + ", ".join(comparison.same))
    out += [f"  {server}: {difference}" for server, difference in comparison.differences]
    if imported.intended_difference():
        out += ["", "intended difference: " + imported.intended_difference()]
    return out


def _verdict(imported: Imported) -> str:
    left = sum(finding.kind == "not converted" for finding in imported.conversion.findings)
    verdict = (
        "everything converted, no difference"
        if imported.exit_code == EXIT_OK
        else f"{left} directive(s) not converted, "
        f"{len(imported.comparison.differences)} difference(s) from the original"
    )
    return f"{len(imported.conversion.environments)} environment(s): {verdict}"
