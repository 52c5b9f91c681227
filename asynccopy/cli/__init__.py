"""The command line: flags -> config -> the core -> rendered result -> exit code.

Each sub-module registers its commands; this module assembles them and maps the errors
asynccopy raises on purpose to one line on stderr and a documented exit code.
"""

from __future__ import annotations

import sys

import typer

from asynccopy.cli import bench, consume, copy, policy, sandbox, verify
from asynccopy.errors import AsyncCopyError

app = typer.Typer(
    name="asynccopy",
    help="Copy selected DynamoDB items into another account's table through SQS, losslessly.",
    no_args_is_help=True,
    add_completion=False,
    # Rich tracebacks print local variables, which can hold credentials.
    pretty_exceptions_enable=False,
)
app.add_typer(sandbox.app, name="sandbox")
copy.register(app)
consume.register(app)
verify.register(app)
policy.register(app)
bench.register(app)


def main() -> None:
    try:
        app()
    except AsyncCopyError as err:
        print(f"asynccopy: error: {err}", file=sys.stderr)
        sys.exit(int(err.exit_code))
