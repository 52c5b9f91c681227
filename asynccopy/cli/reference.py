"""docs/reference.md, generated from the commands themselves so that it cannot drift from --help.

    .venv/bin/python -m asynccopy.cli.reference > docs/reference.md

tests/test_reference_doc.py fails when the file and the commands disagree.
"""

from __future__ import annotations

from typing import Any

import typer.main

HEADER = """# Command reference

Every command and flag, generated from the commands themselves
(`python -m asynccopy.cli.reference > docs/reference.md`); a test keeps it equal to `--help`.
Exit codes: 0 success, 1 some items failed (or differ), 2 bad input (nothing sent),
130 interrupted.
"""


# typer builds on a vendored click; its objects are read by their public click attributes.
def _option_row(param: Any) -> str:
    if param.param_type_name == "option":
        names = ", ".join(f"`{n}`" for n in [*param.opts, *param.secondary_opts])
        help_text = (param.help or "").replace("\n", " ").replace("|", "\\|")
        default = param.default
        shown = ""
        if param.required:
            shown = "required"
        elif default not in (None, False, (), "") and not callable(default):
            shown = f"default `{default}`"
        return f"| {names} | {help_text} | {shown} |"
    return f"| `{param.name}` | argument | |"


def _command_section(path: str, command: Any) -> list[str]:
    lines = [f"## `{path}`", ""]
    help_text = (command.help or "").strip()
    if help_text:
        lines += [help_text.split("\n\n")[0].replace("\n", " "), ""]
    params = [p for p in command.params if p.name != "help"]
    if params:
        lines += ["| flag | meaning | default |", "|---|---|---|"]
        lines += [_option_row(p) for p in params]
        lines.append("")
    return lines


def _walk(path: str, command: Any) -> list[str]:
    if hasattr(command, "commands"):
        lines: list[str] = []
        if command.invoke_without_command:  # a group that is a command too (`asynccopy dlq`)
            lines += _command_section(path, command)
        for name in sorted(command.commands):
            lines += _walk(f"{path} {name}", command.commands[name])
        return lines
    return _command_section(path, command)


def render() -> str:
    from asynccopy.cli import app

    root = typer.main.get_command(app)
    return "\n".join([HEADER, *_walk("asynccopy", root)]).rstrip() + "\n"


if __name__ == "__main__":
    print(render(), end="")
