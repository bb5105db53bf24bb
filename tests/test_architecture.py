"""The layering of docs/architecture.md, enforced: each subpackage imports only the layers below
it, so a later change cannot quietly turn the one-way pipeline into a knot. Relative imports are
resolved against the importing module, and lazy imports inside functions count too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "nginxgen"

# Each layer may import itself and the layers listed for it; nothing else of nginxgen.
ALLOWED = {
    "core": {"core"},
    "nginx": {"core", "nginx"},
    "lint": {"core", "nginx", "lint"},
    "generation": {"core", "nginx", "lint", "generation"},
    "adopt": {"core", "nginx", "lint", "generation", "adopt"},
    "docker": {"core", "nginx", "docker"},
    "routetest": {"core", "nginx", "generation", "routetest"},
    "commands": {"core", "nginx", "lint", "generation", "adopt", "docker", "routetest", "commands"},
    "cli": {"core", "commands", "cli"},
}


def command_modules() -> set[str]:
    """The modules of `commands/` that cli.py runs as commands (`from nginxgen.commands import
    deploy as command`, `from nginxgen.commands.status import status`); the other modules there
    are helpers that commands share. cli.py also takes types from two helpers."""
    tree = ast.parse((PACKAGE / "cli.py").read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "nginxgen.commands":
            found |= {f"nginxgen.commands.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "nginxgen.commands."
        ):
            found.add(str(node.module))
    return found - {"nginxgen.commands.project", "nginxgen.commands.result"}


COMMANDS = command_modules()


def module_name(relative: Path) -> str:
    """`generation/plan.py` → `nginxgen.generation.plan`; a package's `__init__` is the package."""
    parts = ["nginxgen", *relative.with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] != "nginxgen":
        raise ValueError(module)
    return parts[1] if len(parts) > 1 else "root"


def _absolute(node: ast.ImportFrom, importer: str, is_package: bool) -> str | None:
    """The module an ImportFrom names, relative levels resolved against the importer."""
    if node.level == 0:
        return node.module
    base = importer.split(".")
    base = base if is_package else base[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports(source: str, importer: str, is_package: bool = False) -> list[tuple[int, str]]:
    """Every nginxgen module `source` imports, at any depth of the file (lazy imports count)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            module = _absolute(node, importer, is_package)
            if module == "nginxgen" or (module and node.level and not node.module):
                found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
            elif module and (module == "nginxgen" or module.startswith("nginxgen.")):
                found.append((node.lineno, module))
        elif isinstance(node, ast.Import):
            found += [
                (node.lineno, alias.name)
                for alias in node.names
                if alias.name.startswith("nginxgen.")
            ]
    return found


def violations(source: str, relative: Path) -> list[str]:
    """What `source`, standing at `relative` inside the package, imports against the layers."""
    layer = relative.parts[0].removesuffix(".py") if len(relative.parts) > 1 else relative.stem
    importer = module_name(relative)
    found = imports(source, importer, is_package=relative.name == "__init__.py")
    if layer == "__init__":
        return [f"{relative}:{line}: imports {module}" for line, module in found]
    allowed = ALLOWED[layer]
    wrong = [
        f"{relative}:{line}: imports {module}"
        for line, module in found
        if layer_of(module) not in allowed
        and module != "nginxgen.__init__"
        and not (module == "nginxgen.__version__" and layer == "cli")
    ]
    if importer in COMMANDS:
        wrong += [
            f"{relative}:{line}: command module imports command module {module}"
            for line, module in found
            if module in COMMANDS and module != importer
        ]
    return wrong


def modules() -> list[Path]:
    return sorted(path for path in PACKAGE.rglob("*.py") if "templates" not in path.parts)


@pytest.mark.parametrize("path", modules(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_a_module_imports_only_its_own_layer_and_those_below(path: Path) -> None:
    relative = path.relative_to(PACKAGE)
    assert violations(path.read_text(encoding="utf-8"), relative) == []


@pytest.mark.parametrize(
    ("relative", "source", "expected"),
    [
        (
            "core/facts.py",
            "from nginxgen.generation.plan import Plan\n",
            "core/facts.py:1: imports nginxgen.generation.plan",
        ),
        (
            "core/facts.py",
            "def later():\n    from ..generation import plan\n",
            "core/facts.py:2: imports nginxgen.generation",
        ),
        (
            "nginx/runner.py",
            "from ..docker.proxy import ProxyContainer\n",
            "nginx/runner.py:1: imports nginxgen.docker.proxy",
        ),
        (
            "lint/engine.py",
            "import nginxgen.generation.models\n",
            "lint/engine.py:1: imports nginxgen.generation.models",
        ),
        (
            "commands/status.py",
            "from nginxgen.commands.deploy import apply\n",
            "commands/status.py:1: command module imports command module nginxgen.commands.deploy",
        ),
        (
            "commands/status.py",
            "from . import deploy\n",
            "commands/status.py:1: command module imports command module nginxgen.commands.deploy",
        ),
    ],
)
def test_a_planted_violation_fails_the_checker(relative: str, source: str, expected: str) -> None:
    assert expected in violations(source, Path(relative))


@pytest.mark.parametrize(
    ("relative", "source"),
    [
        ("generation/plan.py", "from .models import Environment\nfrom ..core import errors\n"),
        ("commands/deploy.py", "from nginxgen.commands.project import open_project\n"),
        ("commands/deploy.py", "from .result import Report\n"),
        ("docker/live.py", "from nginxgen.nginx.messages import NginxMessage\n"),
    ],
)
def test_allowed_imports_pass_the_checker(relative: str, source: str) -> None:
    assert violations(source, Path(relative)) == []


def test_every_subpackage_says_what_it_owns_and_may_import() -> None:
    for package in sorted(path.parent for path in PACKAGE.glob("*/__init__.py")):
        if package.name == "templates":
            continue
        docstring = ast.get_docstring(ast.parse((package / "__init__.py").read_text()))
        assert docstring and "import" in docstring, package.name


def test_the_commands_are_read_from_the_cli() -> None:
    assert {"nginxgen.commands.deploy", "nginxgen.commands.status"} <= COMMANDS
    assert "nginxgen.commands.project" not in COMMANDS


def test_every_layer_in_the_table_exists() -> None:
    on_disk = {path.parent.name for path in PACKAGE.glob("*/__init__.py")} | {"cli"}
    assert set(ALLOWED) == on_disk
