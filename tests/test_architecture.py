"""The layering of docs/architecture.md, enforced: each subpackage imports only the layers below
it, so a later change cannot quietly turn the one-way pipeline into a knot."""

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


def layer_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] != "nginxgen":
        raise ValueError(module)
    if len(parts) == 1:
        return "root"
    return parts[1] if parts[1] != "__init__" else "root"


def imports(path: Path) -> list[tuple[int, str]]:
    """Every nginxgen module `path` imports, at any depth of the file (lazy imports count)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "nginxgen":
                found += [(node.lineno, f"nginxgen.{alias.name}") for alias in node.names]
            elif node.module.startswith("nginxgen."):
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [
                (node.lineno, alias.name)
                for alias in node.names
                if alias.name.startswith("nginxgen.")
            ]
    return found


def modules() -> list[Path]:
    return sorted(path for path in PACKAGE.rglob("*.py") if "templates" not in path.parts)


@pytest.mark.parametrize("path", modules(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_a_module_imports_only_its_own_layer_and_those_below(path: Path) -> None:
    relative = path.relative_to(PACKAGE)
    layer = relative.parts[0].removesuffix(".py") if len(relative.parts) > 1 else relative.stem
    if layer == "__init__":
        assert imports(path) == []
        return
    allowed = ALLOWED[layer]
    wrong = [
        f"{relative}:{line}: imports {module}"
        for line, module in imports(path)
        if layer_of(module) not in allowed
        and module != "nginxgen.__init__"
        and not (module == "nginxgen.__version__" and layer == "cli")
    ]
    assert wrong == []


def test_every_subpackage_says_what_it_owns_and_may_import() -> None:
    for package in sorted(path.parent for path in PACKAGE.glob("*/__init__.py")):
        if package.name == "templates":
            continue
        docstring = ast.get_docstring(ast.parse((package / "__init__.py").read_text()))
        assert docstring and "import" in docstring, package.name


def test_the_checker_sees_a_violation() -> None:
    """The rule can fail: an upward import from `core` is found."""
    source = "from nginxgen.generation.plan import Plan\n"
    tree_imports = [
        module
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom)
        for module in [node.module]
    ]
    assert tree_imports == ["nginxgen.generation.plan"]
    assert layer_of("nginxgen.generation.plan") not in ALLOWED["core"]


def test_every_layer_in_the_table_exists() -> None:
    on_disk = {path.parent.name for path in PACKAGE.glob("*/__init__.py")} | {"cli"}
    assert set(ALLOWED) - {"docker"} <= on_disk
