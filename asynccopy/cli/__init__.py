"""The command line: flags -> config -> the core -> rendered result -> exit code.

Each sub-module registers its commands; this module assembles them and maps the errors
asynccopy raises on purpose to one line on stderr and a documented exit code.
"""

from __future__ import annotations

import sys

import typer

from asynccopy.cli import bench, consume, copy, policy, sandbox, schema, verify, watch
from asynccopy.errors import AsyncCopyError, ExitCode

app = typer.Typer(
    name="asynccopy",
    help="Copy selected DynamoDB items into another account's table through SQS, losslessly.",
    no_args_is_help=True,
    add_completion=False,
    # Rich tracebacks print local variables, which can hold credentials.
    pretty_exceptions_enable=False,
    # typer coerces every option value it did not get as a bool through a pydantic adapter,
    # including this group's own --help when a subcommand is run: a False default keeps
    # `asynccopy copy --help` from importing pydantic (about a quarter of its start-up).
    context_settings={"default_map": {"help": False, "sandbox": {"help": False}}},
)
app.add_typer(sandbox.app, name="sandbox")
copy.register(app)
consume.register(app)
verify.register(app)
policy.register(app)
bench.register(app)
schema.register(app)
watch.register(app)


def _usage_line(exc: typer.TyperException) -> str:
    # typer vendors click: its usage errors are TyperExceptions carrying click's own
    # `format_message()` and `exit_code` (2 for usage errors).
    message = str(getattr(exc, "format_message", lambda: str(exc))())
    ctx = getattr(exc, "ctx", None)
    where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
    return " ".join(message.split()) + where


def main(argv: list[str] | None = None) -> None:
    """The console script: every error asynccopy or its flags can raise is one line on stderr."""
    try:
        code = app(args=argv, standalone_mode=False)
    except AsyncCopyError as err:
        print(f"asynccopy: error: {err}", file=sys.stderr)
        sys.exit(int(err.exit_code))
    except typer.TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare command: show its help
            print(exc, file=sys.stderr)
            sys.exit(0)
        print(f"asynccopy: error: {_usage_line(exc)}", file=sys.stderr)
        sys.exit(int(getattr(exc, "exit_code", ExitCode.BAD_INPUT)))
    except (typer.Abort, KeyboardInterrupt):
        print("asynccopy: interrupted", file=sys.stderr)
        sys.exit(int(ExitCode.INTERRUPTED))
    sys.exit(code if isinstance(code, int) else 0)
