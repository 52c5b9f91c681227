"""Number keys in key files, as DynamoDB compares them: every distinct key is read exactly once,
every equal one is reported as a duplicate, for `copy` and `verify` alike.

Both commands read a key file the same way (`keys.open_key_file`, then the key-file source's
chunks, one BatchGetItem each): the property test below runs that path over numbers from
DynamoDB's whole range; the sandbox tests run each command as a user does.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import anyio
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from asynccopy.aws import AwsTarget
from asynccopy.config import CopyConfig, KeysSelection
from asynccopy.copy.copier import copy
from asynccopy.read.keyfile import KeyFileSource
from asynccopy.read.keys import describe_duplicates, open_key_file
from asynccopy.read.tables import KeyAttribute, KeySchema
from asynccopy.sandbox import SandboxServer
from asynccopy.sandbox.profiles import DEST_PROFILE, SOURCE_PROFILE
from asynccopy.verify.verify import VerifyConfig, verify
from consumer.wire import Item
from tests.consumer_helpers import received_items
from tests.hypothesis_profiles import examples
from tests.sandbox_helpers import Sandbox, create_table
from tests.strategies import NumberValue, neighbour, number_texts, number_values, storable

N_TABLE = KeySchema(partition=KeyAttribute(name="id", type="N"))


def _plain(value: NumberValue) -> str:
    """`value` as a JSON number (JSON allows no `+`, no leading zeros, no bare point)."""
    negative, digits, exponent = value
    return f"{'-' if negative else ''}{digits or '0'}E{exponent}"


@st.composite
def _key_lines(draw: st.DrawFn, value: NumberValue) -> str:
    """One key line naming `value`, in any form a key file allows."""
    text = draw(number_texts(value))
    return draw(
        st.sampled_from(
            [
                text,
                f'{{"id": {_plain(value)}}}',
                f'{{"id": "{text}"}}',
                f'{{"id": {{"N": "{text}"}}}}',
                f"  {text}  ",
            ]
        )
    )


@st.composite
def _key_files(draw: st.DrawFn) -> tuple[list[str], list[NumberValue | None]]:
    """(lines, the value each names; None for a blank or comment line): distinct values, pairs
    that differ only in the last digit, and the same values written again in other forms."""
    pool = draw(st.lists(number_values(), min_size=1, max_size=12))
    pool += [
        near
        for value in draw(st.lists(st.sampled_from(pool), max_size=6))
        if storable(near := neighbour(value, draw(st.sampled_from([1, -1]))))
    ]
    chosen = draw(st.lists(st.sampled_from(pool) | st.none(), min_size=1, max_size=40))
    lines: list[str] = []
    for value in chosen:
        if value is None:
            lines.append(draw(st.sampled_from(["", "# a comment"])))
        else:
            lines.append(draw(_key_lines(value)))
    return lines, chosen


def _value(key: Item) -> Decimal:
    return Decimal(key["id"]["N"])


def _chunks(plan: Any, *, keys_per_chunk: int) -> list[tuple[list[Item], Any]]:
    """The key lists of the BatchGetItem calls copy and verify make, from the key-file source."""
    source = KeyFileSource(
        cast(Any, None), plan=plan, schema=N_TABLE, keys_per_chunk=keys_per_chunk
    )

    async def collect() -> list[tuple[list[Item], Any]]:
        return [(chunk.keys, chunk.position) async for chunk in source.units()]

    return asyncio.run(collect())


@examples(200)
@given(_key_files(), st.integers(1, 7))
def test_every_distinct_number_key_is_read_once_and_every_equal_one_is_a_duplicate(
    key_file: tuple[list[str], list[NumberValue | None]], keys_per_chunk: int
) -> None:
    lines, values = key_file
    first_line: dict[Decimal, int] = {}
    duplicates: dict[int, int] = {}  # duplicate line -> the line it repeats
    for line_no, value in enumerate(values, start=1):
        if value is None:
            continue
        number = Decimal(_plain(value))  # exact: Decimal compares numbers as DynamoDB does
        if number in first_line:
            duplicates[line_no] = first_line[number]
        else:
            first_line[number] = line_no

    stdin = io.BytesIO("".join(line + "\n" for line in lines).encode())
    with open_key_file("-", schema=N_TABLE, stdin=stdin) as plan:
        assert plan.keys_total == len(first_line)
        assert plan.duplicate_lines == duplicates.keys()
        assert plan.keys_duplicate == len(duplicates)
        first = min(duplicates, default=None)
        assert plan.first_duplicate == (None if first is None else (first, duplicates[first]))
        chunks = _chunks(plan, keys_per_chunk=keys_per_chunk)

    read = [_value(key) for keys, _ in chunks for key in keys]
    assert sorted(read) == sorted(first_line)  # every distinct key, each exactly once
    for keys, _ in chunks:
        assert len({_value(key) for key in keys}) == len(keys) <= keys_per_chunk


# ---- the sandbox: each command as a user runs it ------------------------------------------
TABLE = "numbered"
# Distinct keys DynamoDB keeps apart: pairs equal to 28 significant digits (a 28-digit Decimal
# context rounds each pair together), pairs differing in the 38th digit, the range's ends.
DISTINCT = [
    "0",
    "1.5",
    "100",
    "1.0000000000000000000000000001",
    "1.0000000000000000000000000002",
    "12345678901234567890123456789012345678",
    "12345678901234567890123456789012345679",
    "-12345678901234567890123456789012345678",
    "0.10000000000000000000000000000000000001",
    "0.10000000000000000000000000000000000002",
    "1E-130",
    "2E-130",
    "-1E-130",
    "9.9999999999999999999999999999999999999E+125",
    "9.9999999999999999999999999999999999998E+125",
    "-9.9999999999999999999999999999999999999E+125",
    "31415926535897932384626433832795028841",
    "31415926535897932384626433832795028842",
]
# The same keys again, written otherwise: each is a duplicate of the line noted.
REPEATED = [
    ("-0", "0"),
    ("1.50", "1.5"),
    ("1e2", "100"),
    ('{"id": 1.2345678901234567890123456789012345679E+37}', DISTINCT[6]),
    ("10E-131", "1E-130"),
    ('{"id": {"N": "-0.000"}}', "0"),
]


def _stored(text: str) -> str:
    """`text` as the emulator stores it, without an exponent: ministack finds an item only by
    the text it stored (real DynamoDB compares by value), so the distinct keys are written so."""
    plain = format(Decimal(text), "f")  # exact: no context is involved
    return plain.rstrip("0").rstrip(".") if "." in plain else plain


def _key_file(tmp_path: Path) -> tuple[Path, int, int]:
    """The key file: every distinct key, then the repeats, in other forms; (path, the first
    repeat's line, the line it repeats)."""
    lines = ["# number keys", *map(_stored, DISTINCT), *(text for text, _ in REPEATED)]
    path = tmp_path / "keys.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, len(DISTINCT) + 2, DISTINCT.index(REPEATED[0][1]) + 2


def _items() -> list[Item]:
    return [
        {"id": {"N": _stored(text)}, "n": {"S": f"item {index}"}}
        for index, text in enumerate(DISTINCT)
    ]


def _put(client: Any, items: list[Item]) -> None:
    create_table(client, TABLE, ("id", "N"))
    for item in items:
        client.put_item(TableName=TABLE, Item=item)


def _values(items: list[Item]) -> list[Decimal]:
    return sorted(Decimal(item["id"]["N"]) for item in items)


def test_copy_reads_every_distinct_number_key_once_and_reports_the_duplicates(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    _put(sandbox.source("dynamodb"), _items())
    queue_url = sandbox.dest("sqs").create_queue(QueueName="numbers")["QueueUrl"]
    keys, first, repeats = _key_file(tmp_path)
    code, summary, stderr = sandbox.run_json(
        *("copy", "--table", TABLE, "--queue-url", queue_url, "--keys", str(keys)),
        *("--json", "--no-progress", "--no-checkpoint"),
    )
    assert code == 0, stderr
    assert summary["items_selected"] == summary["items_sent"] == len(DISTINCT)
    assert summary["items_missing"] == summary["items_failed"] == 0
    assert summary["keys_duplicate"] == len(REPEATED)
    assert summary["first_duplicate"] == {"line": first, "same_as_line": repeats}
    received = received_items(sandbox, queue_url)
    assert _values(received) == _values(_items())  # each exactly once
    assert {item["n"]["S"] for item in received} == {item["n"]["S"] for item in _items()}

    dry = sandbox.run_cli(
        *("copy", "--table", TABLE, "--queue-url", queue_url, "--keys", str(keys)),
        *("--dry-run", "--no-progress"),
    )
    assert dry.returncode == 0, dry.stderr
    assert f"{len(REPEATED)} duplicate key lines skipped; first: line {first} = line {repeats}" in (
        dry.stdout
    )


def test_verify_compares_every_distinct_number_key_once_and_reports_the_duplicates(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    _put(sandbox.source("dynamodb"), _items())
    _put(sandbox.dest("dynamodb"), _items())
    keys, first, repeats = _key_file(tmp_path)
    args = ("verify", "--table", TABLE, "--keys", str(keys), "--no-progress")
    env = sandbox.profile_env
    profiles = ("--profile", SOURCE_PROFILE, "--dest-profile", DEST_PROFILE)
    code, summary, stderr = sandbox.run_json(*args, *profiles, "--json", env=env)
    assert code == 0, stderr
    assert summary["identical"] is True
    assert summary["items_compared"] == summary["items_identical"] == len(DISTINCT)
    assert summary["keys_duplicate"] == len(REPEATED)
    assert summary["first_duplicate"] == {"line": first, "same_as_line": repeats}

    text = sandbox.run_cli(*args, *profiles, env=env)
    assert text.returncode == 0, text.stderr
    assert f"{len(DISTINCT)} of {len(DISTINCT)} items identical" in text.stdout
    assert f"{len(REPEATED)} duplicate key lines skipped; first: line {first} = line {repeats}" in (
        text.stdout
    )


# ---- the same property through each command's core, against the sandbox --------------------
@pytest.fixture(scope="module")
def number_world(sandbox_server: SandboxServer) -> Iterator[Sandbox]:
    """The sandbox, with the profiles in this process's environment so that copy() and
    verify() run here as the CLI runs them. Not the `sandbox` fixture: a function-scoped
    fixture would be shared by every example, and it resets the server."""
    sandbox = Sandbox(server=sandbox_server)
    with pytest.MonkeyPatch.context() as patch:
        for name in [name for name in os.environ if name.startswith("AWS_")]:
            patch.delenv(name)
        for name, value in sandbox.profile_env.items():
            if name.startswith("AWS_"):
                patch.setenv(name, value)
        yield sandbox


def _ready(sandbox: Sandbox) -> str:
    """The numbered table on both sides and a queue, made if another test reset the server;
    the queue URL."""
    for client in (sandbox.source("dynamodb"), sandbox.dest("dynamodb")):
        if TABLE not in client.list_tables()["TableNames"]:
            create_table(client, TABLE, ("id", "N"))
    url: str = sandbox.dest("sqs").create_queue(QueueName="number-keys")["QueueUrl"]
    return url


@st.composite
def _stored_key_files(draw: st.DrawFn) -> tuple[list[str], list[Decimal | None]]:
    """A key file whose first line for each value is the emulator's stored form of it (see
    `_stored`), every later one any form: (lines, the value each names; None: no key)."""
    lines, values = draw(_key_files())
    seen: set[Decimal] = set()
    numbers: list[Decimal | None] = []
    for index, value in enumerate(values):
        if value is None:
            numbers.append(None)
            continue
        number = Decimal(_plain(value))
        if number not in seen:
            seen.add(number)
            lines[index] = _stored(_plain(value))
        numbers.append(number)
    return lines, numbers


def _expected(numbers: list[Decimal | None]) -> tuple[list[Decimal], dict[int, int]]:
    """(distinct values, duplicate line -> the line it repeats)."""
    first_line: dict[Decimal, int] = {}
    duplicates: dict[int, int] = {}
    for line_no, number in enumerate(numbers, start=1):
        if number is None:
            continue
        if number in first_line:
            duplicates[line_no] = first_line[number]
        else:
            first_line[number] = line_no
    return sorted(first_line), duplicates


def _first(duplicates: dict[int, int]) -> tuple[int, int] | None:
    first = min(duplicates, default=None)
    return None if first is None else (first, duplicates[first])


@contextlib.contextmanager
def _case(
    sandbox: Sandbox, lines: list[str], distinct: list[Decimal], *, dest: bool
) -> Iterator[KeysSelection]:
    """The items of `distinct` in the source (and the destination), and the key file."""
    clients = [sandbox.source("dynamodb")] + ([sandbox.dest("dynamodb")] if dest else [])
    for client in clients:
        for number in distinct:
            client.put_item(TableName=TABLE, Item={"id": {"N": _stored(str(number))}})
    with tempfile.TemporaryDirectory(prefix="number-keys-") as folder:
        path = Path(folder) / "keys.txt"
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        yield KeysSelection(path=str(path))


# Always tried, whatever the examples drawn: equal to 28 digits, and -0 after 0.
_NEAR_AND_EQUAL_LINES = ["1.0000000000000000000000000001", "1.0000000000000000000000000002"]
_NEAR_AND_EQUAL_LINES += ["0", "-0"]
_NEAR_AND_EQUAL = (_NEAR_AND_EQUAL_LINES, [Decimal(text) for text in _NEAR_AND_EQUAL_LINES])


@examples(5)
@given(_stored_key_files())
@example(_NEAR_AND_EQUAL)
def test_copy_sends_every_distinct_number_key_once(
    number_world: Sandbox, key_file: tuple[list[str], list[Decimal | None]]
) -> None:
    sandbox = number_world
    queue_url = _ready(sandbox)
    lines, numbers = key_file
    distinct, duplicates = _expected(numbers)
    with _case(sandbox, lines, distinct, dest=False) as selection:
        config = CopyConfig(
            table=TABLE,
            queue_url=queue_url,
            selection=selection,
            source=AwsTarget(profile=SOURCE_PROFILE),
            queue=AwsTarget(profile=DEST_PROFILE),
        )
        summary = anyio.run(copy, config)
    assert summary.items_failed == summary.items_missing == 0
    assert summary.items_sent == len(distinct)
    assert summary.keys_duplicate == len(duplicates)
    assert summary.first_duplicate == _first(duplicates)
    received = sorted(Decimal(item["id"]["N"]) for item in received_items(sandbox, queue_url))
    assert received == distinct  # every distinct key, each exactly once


@examples(5)
@given(_stored_key_files())
@example(_NEAR_AND_EQUAL)
def test_verify_compares_every_distinct_number_key_once(
    number_world: Sandbox, key_file: tuple[list[str], list[Decimal | None]]
) -> None:
    sandbox = number_world
    _ready(sandbox)
    lines, numbers = key_file
    distinct, duplicates = _expected(numbers)
    with _case(sandbox, lines, distinct, dest=True) as selection:
        config = VerifyConfig(
            table=TABLE,
            selection=selection,
            source=AwsTarget(profile=SOURCE_PROFILE),
            dest=AwsTarget(profile=DEST_PROFILE),
        )
        result = anyio.run(verify, config)
    assert result.identical
    assert result.items_compared == len(distinct)
    assert result.keys_absent_from_source == 0
    assert result.keys_duplicate == len(duplicates)
    assert result.first_duplicate == _first(duplicates)


@pytest.mark.parametrize(
    ("count", "first", "text"),
    [
        (1, (4, 2), "1 duplicate key line skipped; first: line 4 = line 2"),
        (12, (7, 3), "12 duplicate key lines skipped; first: line 7 = line 3"),
        (1_234, (10, 9), "1,234 duplicate key lines skipped; first: line 10 = line 9"),
    ],
)
def test_the_duplicates_line(count: int, first: tuple[int, int], text: str) -> None:
    assert describe_duplicates(count, first) == text
