"""The layer contract of README "Architecture" (checked by `lint-imports` in CI) holds
for every package, lazy imports included, and leaves no import cycle between packages."""

import re
from pathlib import Path

import grimp
import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("smartml", exclude_type_checking_imports=True, cache_dir=None)


def contract_layers() -> list[str]:
    with open(ROOT / "pyproject.toml", "rb") as file:
        contracts = tomllib.load(file)["tool"]["importlinter"]["contracts"]
    (layers,) = [c["layers"] for c in contracts if c["type"] == "layers"]
    return [name for line in layers for name in re.split(r"\s*[|:]\s*", line)]


def package_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_every_package_is_in_a_layer(graph):
    """A new package or top-level module must be placed in the contract: one that is
    not in any layer escapes the check."""
    top_level = {package_of(m) for m in graph.modules if m != "smartml"}
    named = {f"smartml.{name}" for name in contract_layers()}
    assert top_level - named == set()
    assert named - top_level == set()  # no layer names a package that is gone


def test_imports_inside_functions_are_seen(graph):
    """The evaluate command imports the run evaluation inside main(): the graph the
    contract is checked on holds that edge, so lazy imports cannot hide a violation."""
    assert graph.direct_import_exists(
        importer="smartml.evaluate", imported="smartml.evaluation.run"
    )
    assert graph.direct_import_exists(
        importer="smartml.runs.opening", imported="smartml.models.binding"
    )


def test_no_cycle_between_packages(graph):
    """Package A imports B (at run time, anywhere in a module) and B reaches A: none."""
    edges: dict[str, set[str]] = {}
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            a, b = package_of(module), package_of(imported)
            if a != b and "smartml" not in (a, b):
                edges.setdefault(a, set()).add(b)

    def reachable(start: str) -> set[str]:
        seen: set[str] = set()
        stack = [start]
        while stack:
            for nxt in edges.get(stack.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return seen

    cycles = sorted(f"{a} -> {b}" for a in edges for b in edges[a] if a in reachable(b))
    assert cycles == []
