"""A dry run's sample as a person reads it: rendered on rich's recording console."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from asynccopy.copy.sample import VALUE_CHARS, print_sample, render_sample, shown_value
from consumer.wire import Item
from tests.consumer_helpers import seed_users
from tests.sandbox_helpers import Sandbox

BOX = set("─│┌┐└┘├┤┬┴┼━┃╭╮╯╰═║")
ITEM: Item = {
    "name": {"S": "Jürgen " + "x" * 1000},
    "userid": {"S": "user-1"},
    "avatar": {"B": "AAECAwQ="},  # base64 of 5 bytes: the wire form a sample is decoded to
    "age": {"N": "42"},
    "profile": {"M": {"city": {"S": "Köln"}, "zip": {"N": "50667"}, "raw": {"B": "AAE="}}},
    "active": {"BOOL": True},
}


def _recorded(*, terminal: bool) -> str:
    console = Console(file=io.StringIO(), record=True, width=100, force_terminal=terminal)
    print_sample(console, [ITEM], ["userid"], terminal=terminal)
    return console.export_text()


def test_the_key_comes_first_then_each_attribute_with_type_size_and_a_short_value() -> None:
    text = _recorded(terminal=False)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert lines[0].startswith("userid=user-1  (")
    rows = lines[2:]  # after the title and the header
    assert rows[0].split()[:4] == ["userid", "(key)", "S", "6"]
    assert [row.split()[0] for row in rows[1:]] == [
        "active", "age", "avatar", "name", "profile", "city", "raw", "zip",
    ]  # fmt: skip
    by_name = {row.split()[0]: row for row in rows}
    assert by_name["avatar"].split()[1:] == ["B", "5", "<5", "bytes>"]
    # Text as text (no \\u escapes), cut to about 60 characters.
    assert "Jürgen xxx" in by_name["name"]
    assert "\\u00fc" not in text
    assert len(shown_value(ITEM["name"])) == VALUE_CHARS
    # A map is a tree: its attributes below it, indented, each with its own type and size.
    assert by_name["profile"].split()[1:] == ["M", "27", "3", "attributes"]
    assert [row.split()[1:] for row in rows[-3:]] == [
        ["S", "5", "Köln"], ["B", "2", "<2", "bytes>"], ["N", "4", "50667"],
    ]  # fmt: skip
    assert all(row.startswith("  ") for row in text.splitlines() if "Köln" in row)


def test_a_deep_or_wide_map_is_one_row() -> None:
    deep: Item = {
        "id": {"S": "k"},
        "a": {"M": {"b": {"M": {"c": {"M": {"d": {"M": {"e": {"M": {}}}}}}}}}},
    }
    wide: Item = {"id": {"S": "k"}, "w": {"M": {f"n{i:02d}": {"N": str(i)} for i in range(21)}}}
    deep_rows = render_sample([deep], ["id"], terminal=False).splitlines()
    assert [row.split()[0] for row in deep_rows[2:]] == ["id", "a", "b", "c", "d"]
    assert deep_rows[-1].split()[-1] == '{"e":{}}'
    wide_rows = render_sample([wide], ["id"], terminal=False).splitlines()
    assert len(wide_rows) == 4
    assert wide_rows[-1].split()[-1].startswith('{"n00":0,"n01":1,')


def test_plain_text_has_no_box_characters_and_a_terminal_gets_them() -> None:
    assert not BOX & set(_recorded(terminal=False))
    assert not BOX & set(render_sample([ITEM], ["userid"], terminal=False))
    assert BOX & set(_recorded(terminal=True))


def test_the_dry_run_shows_the_sample_and_sizes_the_plan_from_it(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    keys, queue_url = seed_users(sandbox, tmp_path, items=5)
    args = ("copy", "--table", "users", "--keys", str(keys), "--queue-url", queue_url)
    done = sandbox.run_cli(*args, "--dry-run", "--sample", "2")
    assert done.returncode == 0, done.stderr
    assert "measured on 2 sample items" in done.stdout
    assert "userid (key)" in done.stdout
    assert not BOX & set(done.stdout)  # stdout is a pipe here
    code, summary, stderr = sandbox.run_json(*args, "--dry-run", "--sample", "2", "--json")
    assert code == 0, stderr
    assert summary["average_item_source"] == "measured on 2 sample items"
    assert len(summary["sample_items"]) == 2
    # The seed's items are about 1 KB; the emulator's TableSizeBytes says otherwise.
    assert summary["average_item_bytes"] > 900
