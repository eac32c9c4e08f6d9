"""Structure metrics of the first-party code: prints a table to compare before and after a refactoring.

Usage (no Django, no database; reads the source with ``ast``):
    python bench/structure.py [--verbose]

Counted over first-party, non-test, non-migration Python files (the apps and the project package, not ``tests/``,
``bench/`` or ``*/migrations/``):
  import circles          strongly connected components (more than one module) of the module-level import graph
                          between first-party modules; an import inside a function or under ``if TYPE_CHECKING:``
                          is not an edge (it runs late, or never). "modules in circles" is their total size.
  ..., function-level     the same with imports inside functions counted as edges: the circles that function-level
                          imports only hide (a module that needs another at run time depends on it); "that span
                          apps" counts those whose modules belong to more than one app.
  function-level imports  ``import``/``from ... import`` statements inside a function or method body.
  ... of first-party      the subset that imports a first-party module (the ones that dodge circles or layers).
  functions over 80 lines functions and methods whose body spans more than 80 lines (decorators excluded).
  guards                  ``except`` clauses catching ImportError, ModuleNotFoundError, LookupError or FieldError.
  run-time look-ups       calls of the app registry's ``get_model``, importlib's ``import_module`` and ``import_string``.
``--verbose`` lists each circle, each function-level import of a first-party module, each long function, each guard
and each look-up with its file and line.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRST_PARTY = (
    "sabr_trial",
    "enrollment",
    "treatment",
    "assessments",
    "adverse_events",
    "visits",
    "endpoints",
    "reports",
    "api",
)
LONG_FUNCTION_LINES = 80
GUARDED = {"ImportError", "ModuleNotFoundError", "LookupError", "FieldError"}
LOOKUPS = {"get_model", "import_module", "import_string"}


@dataclass
class Metrics:
    """What one pass over the sources found."""

    modules: int = 0
    edges: dict[str, set[str]] = field(default_factory=dict)
    all_edges: dict[str, set[str]] = field(default_factory=dict)
    function_imports: list[tuple[str, int, str]] = field(default_factory=list)
    long_functions: list[tuple[str, int, str, int]] = field(default_factory=list)
    guards: list[tuple[str, int, str]] = field(default_factory=list)
    lookups: list[tuple[str, int, str]] = field(default_factory=list)


def source_files(root: Path) -> Iterator[Path]:
    """Yield the first-party source files, tests and migrations left out."""
    for package in FIRST_PARTY:
        base = root / package
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*.py")):
            if "migrations" in path.parts or "__pycache__" in path.parts:
                continue
            yield path


def module_name(root: Path, path: Path) -> str:
    """Return the dotted module name of a source file."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_first_party(name: str) -> bool:
    """Return True for a module of one of the project's packages."""
    return name.split(".", 1)[0] in FIRST_PARTY


def resolve_from(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """Return the absolute module a ``from ... import`` names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    if not is_package:
        parts = parts[:-1]
    if node.level > 1:
        parts = parts[: len(parts) - (node.level - 1)]
    return ".".join(parts + ([node.module] if node.module else []))


def imported_modules(
    module: str, is_package: bool, node: ast.Import | ast.ImportFrom, known: set[str]
) -> set[str]:
    """Return the first-party modules an import statement loads (``from pkg import mod`` counts ``pkg.mod``)."""
    found: set[str] = set()
    if isinstance(node, ast.Import):
        for alias in node.names:
            if is_first_party(alias.name):
                found.add(alias.name)
        return found
    base = resolve_from(module, is_package, node)
    if not is_first_party(base):
        return found
    for alias in node.names:
        candidate = f"{base}.{alias.name}"
        found.add(candidate if candidate in known else base)
    return found


def nearest(name: str, known: set[str]) -> str | None:
    """Return the longest known module that is ``name`` or a parent of it."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return None


def is_type_checking(node: ast.If) -> bool:
    """Return True for ``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``)."""
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def walk_module(tree: ast.Module) -> Iterator[tuple[ast.AST, bool]]:
    """Yield every node with a flag: True when it sits inside a function body."""
    stack: list[tuple[ast.AST, bool]] = [(tree, False)]
    while stack:
        node, in_function = stack.pop()
        yield node, in_function
        inner = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        if isinstance(node, ast.If) and is_type_checking(node):
            # Imports for annotations only: never executed, not an edge.
            stack.extend((child, True) for child in node.orelse)
            continue
        stack.extend((child, inner) for child in ast.iter_child_nodes(node))


def exception_names(node: ast.expr | None) -> set[str]:
    """Return the simple names of the exception classes an ``except`` clause catches."""
    if node is None:
        return set()
    if isinstance(node, ast.Tuple):
        names: set[str] = set()
        for element in node.elts:
            names |= exception_names(element)
        return names
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.Attribute):
        return {node.attr}
    return set()


def measure(root: Path) -> Metrics:
    """Parse every first-party source file and collect the metrics."""
    metrics = Metrics()
    files = list(source_files(root))
    known = {module_name(root, path) for path in files}
    metrics.modules = len(files)
    for path in files:
        module = module_name(root, path)
        is_package = path.name == "__init__.py"
        relative = str(path.relative_to(root))
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=relative)
        edges = metrics.edges.setdefault(module, set())
        all_edges = metrics.all_edges.setdefault(module, set())
        for node, in_function in walk_module(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                targets = {nearest(name, known) for name in imported_modules(module, is_package, node, known)}
                targets = {target for target in targets if target and target != module}
                all_edges |= targets
                if in_function:
                    text = ast.unparse(node)
                    metrics.function_imports.append((relative, node.lineno, text if targets else ""))
                else:
                    edges |= targets
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > LONG_FUNCTION_LINES:
                    metrics.long_functions.append((relative, node.lineno, node.name, length))
            elif isinstance(node, ast.ExceptHandler):
                caught = exception_names(node.type) & GUARDED
                if caught:
                    metrics.guards.append((relative, node.lineno, ", ".join(sorted(caught))))
            elif isinstance(node, ast.Call):
                func = node.func
                name = (
                    func.attr
                    if isinstance(func, ast.Attribute)
                    else func.id
                    if isinstance(func, ast.Name)
                    else ""
                )
                if name in LOOKUPS:
                    metrics.lookups.append((relative, node.lineno, ast.unparse(node)[:90]))
    return metrics


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Return the strongly connected components of the graph (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="list every finding with its file and line")
    args = parser.parse_args(argv)
    metrics = measure(ROOT)
    circles = [component for component in strongly_connected(metrics.edges) if len(component) > 1]
    late_circles = [component for component in strongly_connected(metrics.all_edges) if len(component) > 1]
    first_party_imports = [row for row in metrics.function_imports if row[2]]
    rows = [
        ("first-party modules", metrics.modules),
        ("import circles", len(circles)),
        ("modules in circles", sum(len(component) for component in circles)),
        ("import circles, function-level imports counted", len(late_circles)),
        ("modules in those circles", sum(len(component) for component in late_circles)),
        ("... circles that span apps", sum(1 for c in late_circles if len({m.split(".")[0] for m in c}) > 1)),
        ("function-level imports", len(metrics.function_imports)),
        ("... of first-party modules", len(first_party_imports)),
        (f"functions over {LONG_FUNCTION_LINES} lines", len(metrics.long_functions)),
        ("ImportError/LookupError/FieldError guards", len(metrics.guards)),
        ("run-time look-ups (get_model, import_module)", len(metrics.lookups)),
    ]
    width = max(len(label) for label, _ in rows)
    print(f"{'metric':<{width}}  value")
    print(f"{'-' * width}  -----")
    for label, value in rows:
        print(f"{label:<{width}}  {value:>5}")
    if args.verbose:
        for number, component in enumerate(circles, 1):
            print(f"\ncircle {number} ({len(component)} modules): {', '.join(component)}")
        for number, component in enumerate(late_circles, 1):
            print(
                f"\ncircle {number} with function-level imports ({len(component)} modules): {', '.join(component)}"
            )
        print("\nfunction-level imports of first-party modules:")
        for relative, line, text in first_party_imports:
            print(f"  {relative}:{line}  {text}")
        print(f"\nfunctions over {LONG_FUNCTION_LINES} lines:")
        for relative, line, name, length in sorted(metrics.long_functions, key=lambda row: -row[3]):
            print(f"  {relative}:{line}  {name} ({length} lines)")
        print("\nguards:")
        for relative, line, caught in metrics.guards:
            print(f"  {relative}:{line}  except {caught}")
        print("\nrun-time look-ups:")
        for relative, line, text in metrics.lookups:
            print(f"  {relative}:{line}  {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
