"""The house as docs/architecture.md describes it: every module on the map, no import cycles.

The layers contract itself is checked by ``lint-imports`` (``.ci/run``; the contract is
in pyproject.toml); here the same graph (grimp, import-linter's engine) is searched for
cycles between modules, type-checking imports included.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "toolkit"


def _modules() -> set[str]:
    return {str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")}


def _mapped() -> set[str]:
    doc = (ROOT / "docs" / "architecture.md").read_text()
    block = doc[doc.index("### Module map") :]
    block = block[block.index("```") + 3 :]
    block = block[: block.index("```")]
    found: set[str] = set()
    stack: list[tuple[int, str]] = []  # (indent, folder)
    lines = block.splitlines()
    for line in lines[lines.index("toolkit/") + 1 :]:
        if not line.strip():
            continue
        if not line.startswith(" "):
            break  # past the package (data/ …)
        indent = len(line) - len(line.lstrip())
        while stack and stack[-1][0] >= indent:
            stack.pop()
        folder = "/".join(f for _, f in stack)
        words = line.split()
        if words[0].endswith("/"):
            stack.append((indent, words[0].rstrip("/")))
            continue
        # a line may list several files: "__init__.py  store.py (…)  engine.py (…)"
        for name in re.findall(r"(?:^|\s)([\w]+\.py)\b", line):
            found.add(f"{folder}/{name}" if folder else name)
    return found


def test_every_module_is_on_the_architecture_map():
    missing = sorted(_modules() - _mapped())
    assert not missing, f"add these to docs/architecture.md's module map: {missing}"


def test_the_map_names_no_module_that_is_gone():
    gone = sorted(m for m in _mapped() - _modules() if not m.startswith("data"))
    assert not gone, f"docs/architecture.md names modules that do not exist: {gone}"


def test_no_import_cycles_in_the_package():
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph("toolkit", include_external_packages=False)
    modules = sorted(graph.modules)
    # Tarjan's strongly connected components over module → imported module
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = [0]

    def visit(m: str) -> None:
        index[m] = low[m] = counter[0]
        counter[0] += 1
        stack.append(m)
        on_stack.add(m)
        for n in graph.find_modules_directly_imported_by(m):
            if n not in index:
                visit(n)
                low[m] = min(low[m], low[n])
            elif n in on_stack:
                low[m] = min(low[m], index[n])
        if low[m] == index[m]:
            comp = []
            while True:
                n = stack.pop()
                on_stack.discard(n)
                comp.append(n)
                if n == m:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    import sys

    sys.setrecursionlimit(10_000)
    for m in modules:
        if m not in index:
            visit(m)
    assert not cycles, f"import cycles: {cycles}"
