"""The code's shape: imports form no circle (counting imports inside functions too), no module
imports its package root, no file over 300 lines, no comment points outside the repository, and
shipped artifacts carry no machine-local paths."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("fewshot", "episodes")
MAX_LINES = 300


def modules() -> dict[str, Path]:
    """Every module of the packages by dotted name (a package is its ``__init__``)."""
    found = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports_of(path: Path, name: str, known: dict[str, Path]) -> set[str]:
    """Modules of the packages that ``path`` imports anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1]
                    + ([base] if base else [])
                )
            for alias in node.names:
                child = f"{base}.{alias.name}"
                targets.add(child if child in known else base)
    return {target for target in targets if target in known and target != name}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(path, name, known) for name, path in known.items()}


def test_no_import_circle():
    edges = graph()
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                cycles.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    assert cycles == [], "import circles: " + "; ".join(" → ".join(c) for c in cycles[:5])


def test_no_module_imports_its_package_root_or_runs_up_into_episodes():
    offenders = []
    for name, targets in graph().items():
        root = name.split(".")[0]
        if name not in PACKAGES and root in targets and name != f"{root}.__main__":
            offenders.append(f"{name} imports {root} (import the module that defines it)")
        if root == "fewshot":
            offenders += [f"{name} imports {t}" for t in targets if t.startswith("episodes")]
    assert offenders == []


@pytest.mark.parametrize("package", PACKAGES)
def test_no_file_over_300_lines(package):
    long = {
        str(path.relative_to(REPO)): count
        for path in (REPO / package).rglob("*.py")
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_no_reference_to_documents_outside_the_repository():
    cited = [
        str(path.relative_to(REPO))
        for folder in (*PACKAGES, "tests", "benchmarks", "examples", "scripts")
        for path in (REPO / folder).rglob("*.py")
        if "DESIGN" in path.read_text(encoding="utf-8") and path.name != "test_layout.py"
    ]
    cited += [
        name
        for name in ("README.md", "pyproject.toml")
        if "DESIGN" in (REPO / name).read_text(encoding="utf-8")
    ]
    assert cited == []


def test_shipped_checkpoints_carry_no_machine_local_paths():
    bad = []
    for config in [
        *(REPO / "fewshot" / "assets").rglob("*.json"),
        *(REPO / "benchmarks" / "models").rglob("*.json"),
    ]:
        text = config.read_text(encoding="utf-8")
        for value in _strings(json.loads(text)):
            if value.startswith(("/", "~")) or ":\\" in value:
                bad.append(f"{config.relative_to(REPO)}: {value}")
    assert bad == []


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []
