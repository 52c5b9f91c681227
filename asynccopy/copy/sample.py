"""A dry run's sample, for a person: one small table per item, its key first, each attribute
with its type, its size as DynamoDB counts it, and its value cut to about 60 characters (text
as text, binary as a length). A map is a tree: its attributes on indented rows below it, so
what a --transform did deep inside one shows. Box characters only on a terminal (as
progress.py decides)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from typing import Any, Final

from rich import box
from rich.console import Console
from rich.table import Table

from asynccopy.copy.wording import counted as _counted
from asynccopy.read.itemsize import binary_length, item_size_bytes, value_size_bytes
from consumer.wire import Item

VALUE_CHARS: Final = 60
WIDTH: Final = 100  # a plain-text rendering's width: stdout may be a file
# A map deeper than this, or with more attributes, is one row of compact JSON.
TREE_DEPTH: Final = 3
TREE_WIDTH: Final = 20


def _cut(text: str, limit: int = VALUE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _bytes_of(inner: str | bytes) -> str:
    return f"<{_counted(binary_length(inner), 'byte')}>"


def _compact(value: Any) -> str:
    """Short JSON-like text of a value: S quoted, N as its digits (never a float), B as its
    length."""
    ((tag, inner),) = value.items()
    match tag:
        case "S":
            return json.dumps(inner, ensure_ascii=False)
        case "N":
            return str(inner)
        case "B":
            return _bytes_of(inner)
        case "BOOL":
            return "true" if inner else "false"
        case "NULL":
            return "null"
        case "SS":
            return "[" + ",".join(json.dumps(e, ensure_ascii=False) for e in inner) + "]"
        case "NS":
            return "[" + ",".join(inner) + "]"
        case "BS":
            return "[" + ",".join(_bytes_of(e) for e in inner) + "]"
        case "L":
            return "[" + ",".join(_compact(e) for e in inner) + "]"
        case "M":
            fields = (
                f"{json.dumps(k, ensure_ascii=False)}:{_compact(v)}" for k, v in inner.items()
            )
            return "{" + ",".join(fields) + "}"
    return str(inner)


def shown_value(value: Any) -> str:
    """An AttributeValue for reading, cut to VALUE_CHARS: S as its text (unescaped), N as its
    digits, B as its length, sets and documents as compact JSON (binaries as lengths)."""
    ((tag, inner),) = value.items()
    if tag == "S":
        return _cut(inner)
    return _cut(_compact(value))


def _rows(name: str, value: Any, *, depth: int = 0) -> Iterator[tuple[str, str, str, str]]:
    """(attribute, type, size, value) of `value`, then of a map's attributes, indented."""
    ((tag, inner),) = value.items()
    size = f"{value_size_bytes(value):,}"
    label = "  " * depth + name
    if tag != "M" or not inner or depth >= TREE_DEPTH or len(inner) > TREE_WIDTH:
        yield label, tag, size, shown_value(value)
        return
    yield label, tag, size, _counted(len(inner), "attribute")
    for child in sorted(inner):
        yield from _rows(child, inner[child], depth=depth + 1)


def sample_table(item: Item, key_names: Sequence[str], *, terminal: bool) -> Table:
    names = [name for name in key_names if name in item]
    names += sorted(name for name in item if name not in key_names)
    key = ", ".join(f"{name}={shown_value(item[name])}" for name in names[: len(key_names)])
    table = Table(
        title=f"{key}  ({_counted(item_size_bytes(item), 'byte')})",
        title_justify="left",
        box=box.SIMPLE_HEAD if terminal else None,
        show_edge=False,
        pad_edge=False,
    )
    for column, justify in (("attribute", "left"), ("type", "left"), ("size", "right")):
        table.add_column(column, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    table.add_column("value", overflow="fold")
    for name in names:
        marker = " (key)" if name in key_names else ""
        for row in _rows(f"{name}{marker}", item[name]):
            table.add_row(*row)
    return table


def print_sample(
    console: Console, items: Sequence[Item], key_names: Sequence[str], *, terminal: bool
) -> None:
    for item in items:
        console.print(sample_table(item, key_names, terminal=terminal))


def render_sample(items: Sequence[Item], key_names: Sequence[str], *, terminal: bool) -> str:
    """The sample as text: with box characters and styles on a terminal, plain otherwise."""
    console = Console(
        file=io.StringIO(),
        record=True,
        width=WIDTH,
        force_terminal=terminal,
        color_system="auto" if terminal else None,
        emoji=False,
        highlight=False,
    )
    print_sample(console, items, key_names, terminal=terminal)
    text = console.export_text(styles=terminal)
    return "\n".join(line.rstrip() for line in text.rstrip("\n").splitlines())
