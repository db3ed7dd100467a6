"""Import structure of smartml, as JSON: module count and sizes, and the import cycles
among modules and among packages, lazy imports (inside functions) included, imports
under ``if TYPE_CHECKING:`` left out (``--typing``: included).

    python benchmarks/import_structure.py [--typing] [--source DIR]

``--source DIR`` measures another checkout (e.g. an older commit's worktree).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def strongly_connected(nodes: list[str], edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one member (cycles)."""
    sys.setrecursionlimit(10_000)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in nodes:
        if node not in index:
            visit(node)
    return cycles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--typing", action="store_true", help="count TYPE_CHECKING imports")
    parser.add_argument("--source", type=Path, help="the checkout to measure")
    args = parser.parse_args()
    root = (args.source or Path(__file__).resolve().parents[1]).resolve()
    sys.path.insert(0, str(root))
    import grimp

    graph = grimp.build_graph(
        "smartml", exclude_type_checking_imports=not args.typing, cache_dir=None
    )
    modules = sorted(graph.modules)
    module_edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in modules}

    def package(module: str) -> str:
        return ".".join(module.split(".")[:2])

    package_edges: dict[str, set[str]] = {}
    for module, targets in module_edges.items():
        for target in targets:
            a, b = package(module), package(target)
            if a != b and "smartml" not in (a, b):
                package_edges.setdefault(a, set()).add(b)
    sizes = {
        str(path.relative_to(root)): len(path.read_text().splitlines())
        for path in (root / "smartml").rglob("*.py")
    }
    largest = sorted(sizes.items(), key=lambda item: -item[1])[:8]
    print(
        json.dumps(
            {
                "source": str(root),
                "modules": len(modules),
                "lines": sum(sizes.values()),
                "modules_over_500_lines": sum(n > 500 for n in sizes.values()),
                "largest_modules": dict(largest),
                "module_cycles": strongly_connected(modules, module_edges),
                "package_cycles": strongly_connected(sorted(package_edges), package_edges),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
