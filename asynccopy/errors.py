"""The exceptions asynccopy raises on purpose, and the exit codes they map to.

    AsyncCopyError                 message built from data, plus a hint saying how to fix it
    ├── InputError                 bad input or configuration: exit 2, nothing was sent
    │   (subclasses name the input: key file line, key schema, rate, table, queue, profile)
    └── SandboxError               the local emulator could not be installed, started or reached

Anything else escaping the CLI is a bug and is shown as such.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # every selected item that exists was sent (or, for verify: identical)
    FAILURES = 1  # some items failed (reported by key), or verify found differences
    BAD_INPUT = 2  # bad input or configuration; nothing was sent
    INTERRUPTED = 130  # Ctrl-C: reading stopped, sends in flight finished, summary printed


class AsyncCopyError(Exception):
    """Base: `str(err)` is one line, the problem followed by how to fix it."""

    exit_code: ExitCode = ExitCode.FAILURES

    def __init__(self, problem: str, *, hint: str = "") -> None:
        self.problem = problem
        self.hint = hint
        super().__init__(f"{problem} ({hint})" if hint else problem)


class InputError(AsyncCopyError):
    """Bad input or configuration, found before anything was sent."""

    exit_code = ExitCode.BAD_INPUT


class SandboxError(AsyncCopyError):
    """The local sandbox could not be installed, started or reached."""

    exit_code = ExitCode.BAD_INPUT
