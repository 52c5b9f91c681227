"""The layout holds: imports flow one way, and the consumer ships on its own.

Every module under asynccopy/ and consumer/ is parsed with `ast` (nothing is imported). An
import counts wherever it is written, inside functions too, except under `if TYPE_CHECKING:`,
which never runs.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("asynccopy", "consumer")
# What the Lambda Python runtime provides besides the standard library.
LAMBDA_RUNTIME = {"boto3", "botocore"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[str, list[str]]]:
    """(module imported, names taken from it) for every import that runs."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                yield from _imports(ast.Module(body=[child], type_ignores=[]), module, is_package)
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module if is_package else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base else package
            yield base, [alias.name for alias in node.names]
        else:
            yield from _imports(node, module, is_package)


def _graph() -> dict[str, set[str]]:
    """Module -> the modules of asynccopy and consumer it imports."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        targets: set[str] = set()
        for imported, names in _imports(tree, name, path.name == "__init__.py"):
            # `from package import module` imports the module (its package has no part in
            # a cycle then); `from module import name` or `import module`, the module itself.
            submodules = {f"{imported}.{n}" for n in names} & modules.keys()
            targets |= submodules
            if imported in modules and len(submodules) < max(len(names), 1):
                targets.add(imported)
        targets.discard(name)
        graph[name] = targets
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, if there is any (depth-first search, iterative)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    for start in sorted(graph):
        if state.get(start):
            continue
        path = [start]
        stack = [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            following = next(stack[-1], None)
            if following is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(following) == 1:
                return [*path[path.index(following) :], following]
            elif not state.get(following):
                state[following] = 1
                path.append(following)
                stack.append(iter(sorted(graph[following])))
    return None


def test_no_module_imports_itself_back() -> None:
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_the_consumer_imports_only_the_standard_library_boto3_and_itself() -> None:
    outside = set()
    for name, path in _modules().items():
        if not name.startswith("consumer"):
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for imported, _names in _imports(tree, name, path.name == "__init__.py"):
            top = imported.partition(".")[0]
            if top not in {"consumer", "__future__", *LAMBDA_RUNTIME, *sys.stdlib_module_names}:
                outside.add(f"{name} imports {imported}")
    assert not outside, sorted(outside)


def test_the_consumer_and_the_local_runner_do_not_import_each_other_back() -> None:
    graph = _graph()
    back = {
        f"{name} imports {target}"
        for name, targets in graph.items()
        if name.startswith("consumer")
        for target in targets
        if not target.startswith("consumer")
    }
    assert not back, sorted(back)
