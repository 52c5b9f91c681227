"""docs/reference.md stays true: equal to what the commands generate, and naming every flag
that `--help` shows."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from asynccopy.cli.reference import render

DOC = Path(__file__).resolve().parents[1] / "docs" / "reference.md"
SECTION = re.compile(r"^## `(asynccopy[^`]*)`$", re.MULTILINE)


def _sections() -> dict[str, str]:
    text = DOC.read_text()
    marks = list(SECTION.finditer(text))
    return {
        mark.group(1): text[mark.end() : marks[i + 1].start() if i + 1 < len(marks) else None]
        for i, mark in enumerate(marks)
    }


def test_reference_is_generated_from_the_commands() -> None:
    assert DOC.read_text() == render(), (
        "docs/reference.md is stale: run `.venv/bin/python -m asynccopy.cli.reference"
        " > docs/reference.md`"
    )


@pytest.mark.parametrize("command", sorted(_sections()))
def test_every_flag_in_help_is_documented(command: str) -> None:
    env = {**os.environ, "COLUMNS": "250", "NO_COLOR": "1", "TERM": "dumb"}
    words = command.split()[1:]
    shown = subprocess.run(
        [sys.executable, "-m", "asynccopy", *words, "--help"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    # An option row of rich's help starts with the flag (and its --no- twin); help text that
    # merely mentions another flag does not count.
    rows = re.findall(r"^│\s+(?:\*\s+)?(--[a-z][\w-]*)(?:\s+(--[a-z][\w-]*))?", shown, re.M)
    flags = {flag for row in rows for flag in row if flag}
    assert "--help" in flags, f"the option rows of `{command} --help` were not recognised"
    flags.discard("--help")
    documented = set(re.findall(r"`(--[a-z][a-z0-9-]+)`", _sections()[command]))
    assert flags <= documented, f"{command}: flags in --help but not in the reference"
