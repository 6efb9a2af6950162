"""docs/security.md names, for each ASVS requirement, the tests that show it: every one of those
tests must exist (a renamed or deleted test would leave the map pointing at nothing)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "security.md"
# `tests/x/test_y.py::test_z`, `::test_w` (same file as the one named before it), or a file alone.
NAMED = re.compile(r"`(tests/[\w/]+\.py)?(?:::(\w+))?`")


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}


def named_tests() -> list[tuple[str, str | None]]:
    """(file, test or None) for every test the doc names, in order."""
    named: list[tuple[str, str | None]] = []
    for line in DOC.read_text().splitlines():
        if not line.startswith("|"):
            continue
        current = None
        for path, test in NAMED.findall(line):
            current = path or current
            if current and (path or test):
                named.append((current, test or None))
    return named


def test_every_test_the_security_doc_names_exists():
    named = named_tests()
    assert len(named) > 100  # the map is read, not skipped
    missing = [
        f"{path}::{test}" if test else path
        for path, test in named
        if not (ROOT / path).is_file() or (test and test not in _tests_in(ROOT / path))
    ]
    assert not missing, f"docs/security.md names tests that don't exist: {missing}"
