"""The boundaries a newcomer relies on: who may import whom, no cycles, small modules.

Read from the source with ``ast`` (module-level and function-level imports alike), so a
lazy import cannot hide a dependency.
"""

from __future__ import annotations

import ast
import statistics
import tomllib
from pathlib import Path

import pytest
from setuptools import find_packages

REPO = Path(__file__).resolve().parent.parent
PRODUCT_ROOTS = ("baton", "libs", "services")
DEVTOOLS = REPO / "devtools"


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    found = {}
    for top in PRODUCT_ROOTS:
        for path in (REPO / top).rglob("*.py"):
            found[_module_name(path, REPO)] = path
    for top in ("emulator", "baton_devtools"):
        for path in (DEVTOOLS / top).rglob("*.py"):
            found[_module_name(path, DEVTOOLS)] = path
    return found


MODULES = _modules()


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _internal(name: str) -> str | None:
    """The project module an import names (``a.b.c`` → ``a.b`` when ``c`` is an attribute)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


GRAPH = {
    module: {target for n in _imports(path) if (target := _internal(n)) and target != module}
    for module, path in MODULES.items()
}


def _top(module: str) -> str:
    return module.split(".")[0]


def _service(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "services" and len(parts) > 1 else None


def test_services_never_import_each_other() -> None:
    for module, targets in GRAPH.items():
        own = _service(module)
        if own is None:
            continue
        for target in targets:
            other = _service(target)
            assert other in (None, own), f"{module} imports {target}"


def test_the_emulator_imports_nothing_of_the_product_or_its_tools() -> None:
    for module, targets in GRAPH.items():
        if _top(module) == "emulator":
            assert all(_top(t) == "emulator" for t in targets), (module, targets)


def test_the_product_never_imports_the_developer_tools() -> None:
    for module, targets in GRAPH.items():
        if _top(module) in PRODUCT_ROOTS:
            assert not [t for t in targets if _top(t) in ("emulator", "baton_devtools")], module


def test_libs_import_no_service_and_contracts_import_no_plumbing() -> None:
    for module, targets in GRAPH.items():
        if _top(module) == "libs":
            assert not [t for t in targets if _top(t) in ("services", "baton")], module
        if module.startswith("libs.contracts"):
            assert all(t.startswith("libs.contracts") for t in targets), (module, targets)
            external = {n.split(".")[0] for n in _imports(MODULES[module])}
            assert not external & {"nats", "faststream", "fastapi", "httpx", "opentelemetry"}


def test_no_import_cycles() -> None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(GRAPH[module]):
            if state.get(target) == 1:
                cycle = path[path.index(target) :] + [target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)


def test_product_modules_stay_small() -> None:
    sizes = [
        len(path.read_text().splitlines())
        for module, path in MODULES.items()
        if _top(module) in PRODUCT_ROOTS and path.name != "__init__.py"
    ]
    assert statistics.median(sizes) < 120, f"median {statistics.median(sizes)} lines"


def test_the_product_distribution_holds_no_developer_tools() -> None:
    """What ``pip install .`` (and so the production image) installs: no emulator, no tools."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = find_packages(where=str(REPO), include=include)
    assert "services.agent_worker" in packages and "libs.platform" in packages
    assert not [p for p in packages if _top(p) in ("emulator", "baton_devtools", "devtools")]
