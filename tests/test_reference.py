"""docs/reference.md is the reference manual; these tests keep it true to the code: every field of
the environment file and of `nginxgen.yaml`, and every option of every command, appears in it."""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer.main
from pydantic import BaseModel

from nginxgen.cli import app
from nginxgen.generation.models import Environment, Settings

REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "reference.md"

# Described once, in the introduction of the Commands section, for every command that takes them.
COMMON_OPTIONS = {"--environments", "--settings"}
# The proxy-selection options: described under `nginxgen deploy`, taken by these commands too.
PROXY_OPTIONS = {"--container", "--compose-service", "--swarm-service", "--project"}
PROXY_COMMANDS = {"rollback", "status", "certs renew"}


def nested_models(annotation: object) -> Iterator[type[BaseModel]]:
    """The pydantic models inside an annotation (through unions, lists, dicts, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        yield from nested_models(typing.get_args(annotation)[0])
        return
    if origin is not None or isinstance(annotation, types.UnionType):
        for argument in typing.get_args(annotation):
            yield from nested_models(argument)


def fields(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    """Every field of the model as a dotted key (`tls.hsts.max_age`), nested models included."""
    for name, info in model.model_fields.items():
        key = f"{prefix}{info.alias or name}"
        yield key
        for nested in nested_models(info.annotation):
            yield from fields(nested, f"{key}.")


def documented(key: str, text: str) -> bool:
    """A key is documented when its last part appears in code quotes, alone or as a dotted key
    (`tls.certificate`, `routes[].rate_limit`), or as a key inside a quoted example mapping."""
    leaf = re.escape(key.rsplit(".", 1)[-1])
    return re.search(rf"`[^`\n]*(?<![\w-]){leaf}(?![\w-])[^`\n]*`", text) is not None


def test_every_field_of_the_environment_file_and_of_the_settings_is_in_the_reference() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    keys = sorted({*fields(Environment), *(f"settings:{key}" for key in fields(Settings))})
    missing = [key for key in keys if not documented(key.removeprefix("settings:"), text)]
    assert missing == []


def test_a_field_that_is_not_documented_is_found() -> None:
    assert not documented("tls.no_such_field", "`tls.certificate` and `tls.certificate_key`")
    assert documented("tls.certificate", "`tls.certificate`, `tls.certificate_key`")


def command_options() -> Iterator[tuple[str, str]]:
    """(command, option) for every command, subcommands (`certs renew`) included."""
    yield from _options(typer.main.get_command(app), "")


def _options(group: object, prefix: str) -> Iterator[tuple[str, str]]:
    for name, command in sorted(getattr(group, "commands", {}).items()):
        full = f"{prefix}{name}"
        for parameter in command.params:
            if parameter.param_type_name == "option":
                long = [opt for opt in parameter.opts if opt.startswith("--")]
                yield full, (long or list(parameter.opts))[0]
            else:
                yield full, str(parameter.name).upper()
        yield from _options(command, f"{full} ")


def command_section(text: str, command: str) -> str:
    match = re.search(rf"^### nginxgen {re.escape(command)}\n(.*?)(?=^##)", text, re.M | re.S)
    assert match, f"docs/reference.md has no section '### nginxgen {command}'"
    return match.group(1)


@pytest.mark.parametrize(("command", "option"), sorted(set(command_options())))
def test_every_option_of_every_command_is_in_the_reference(command: str, option: str) -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    if option in COMMON_OPTIONS:
        section = text[text.index("## Commands") :]
    elif option in PROXY_OPTIONS and command in PROXY_COMMANDS:
        section = command_section(text, "deploy")
    else:
        section = command_section(text, command)
    assert f"`{option}" in section or f"{option}`" in section or f" {option} " in section, (
        f"nginxgen {command} {option} is not in docs/reference.md"
    )


def test_every_command_has_a_section() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    for command in {name for name, _ in command_options()}:
        command_section(text, command)


ROOT = REFERENCE.parent.parent
LINK = re.compile(r"\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    return {slug(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("page", pages(), ids=lambda page: page.name)
def test_every_link_between_the_pages_leads_somewhere(page: Path) -> None:
    broken = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        linked = (page.parent / file).resolve() if file else page
        if not linked.exists() or (
            anchor and linked.suffix == ".md" and anchor not in anchors(linked)
        ):
            broken.append(target)
    assert broken == []
