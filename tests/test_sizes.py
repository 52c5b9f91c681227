"""Code small enough to read: no function in asynccopy/cli over 60 lines (a command only turns
flags into config, runs the core and renders its result), and no class over 200 lines in
asynccopy/ or consumer/ (a class that grows past that holds more than one job: split it).

Lines are counted with `ast`, from the `def`/`class` line (decorators excluded) to the last
line of the body, docstring and comments included.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_CLI_FUNCTION_LINES = 60
MAX_CLASS_LINES = 200


def _lines(node: ast.stmt) -> int:
    assert node.end_lineno is not None
    return node.end_lineno - node.lineno + 1


def _oversized(package: str, kinds: tuple[type[ast.stmt], ...], limit: int) -> list[str]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, kinds) and _lines(node) > limit:
                name = getattr(node, "name", "?")
                found.append(f"{path.relative_to(ROOT)}: {name} ({_lines(node)} lines)")
    return found


def test_no_cli_function_is_over_60_lines() -> None:
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef)
    assert _oversized("asynccopy/cli", kinds, MAX_CLI_FUNCTION_LINES) == []


def test_no_class_is_over_200_lines() -> None:
    found = [
        line
        for package in ("asynccopy", "consumer")
        for line in _oversized(package, (ast.ClassDef,), MAX_CLASS_LINES)
    ]
    assert found == []


def test_the_check_sees_a_long_function() -> None:
    """The counting itself: a 61-line function is caught, a 60-line one is not."""
    body = "\n".join("    x = 1" for _ in range(59))
    for lines, caught in ((60, False), (61, True)):
        source = "def f():\n" + body + ("\n    x = 2" if lines == 61 else "")
        node = ast.parse(source).body[0]
        assert (_lines(node) > MAX_CLI_FUNCTION_LINES) is caught
