"""Key lines, key files and JSON values: every form and every error, with line numbers."""

from __future__ import annotations

import base64
import io
import sys
import unicodedata
from pathlib import Path

import pytest

from asynccopy.errors import InputError, KeyLineError
from asynccopy.read.keys import (
    ValueProblem,
    _is_hidden,
    iter_keys,
    key_digest,
    open_key_file,
    parse_key_line,
    parse_values_json,
)
from asynccopy.read.tables import KeyAttribute, KeySchema

S_TABLE = KeySchema(partition=KeyAttribute(name="userid", type="S"))
N_TABLE = KeySchema(partition=KeyAttribute(name="id", type="N"))
B_TABLE = KeySchema(partition=KeyAttribute(name="blob", type="B"))
COMPOSITE = KeySchema(
    partition=KeyAttribute(name="tenant", type="S"), sort=KeyAttribute(name="seq", type="N")
)


@pytest.mark.parametrize(
    ("line", "schema", "key"),
    [
        ("user-1\n", S_TABLE, {"userid": {"S": "user-1"}}),
        ("  user 1 \r\n", S_TABLE, {"userid": {"S": "user 1"}}),
        ("Zoë 🚀", S_TABLE, {"userid": {"S": "Zoë 🚀"}}),
        ("42", N_TABLE, {"id": {"N": "42"}}),
        ("-1.5E+3", N_TABLE, {"id": {"N": "-1.5E+3"}}),
        ("12345678901234567890123456789012345678", N_TABLE,
         {"id": {"N": "12345678901234567890123456789012345678"}}),
        (base64.b64encode(b"\x00\xff").decode(), B_TABLE, {"blob": {"B": b"\x00\xff"}}),
        ('{"userid": "u1"}', S_TABLE, {"userid": {"S": "u1"}}),
        ('{"userid": {"S": " padded "}}', S_TABLE, {"userid": {"S": " padded "}}),
        ('{"id": 7}', N_TABLE, {"id": {"N": "7"}}),
        ('{"id": 0.1000000000000000000001}', N_TABLE, {"id": {"N": "0.1000000000000000000001"}}),
        ('{"id": "8"}', N_TABLE, {"id": {"N": "8"}}),
        ('{"id": {"N": "9"}}', N_TABLE, {"id": {"N": "9"}}),
        ('{"blob": {"B": "AAE="}}', B_TABLE, {"blob": {"B": b"\x00\x01"}}),
        ('{"blob": "AAE="}', B_TABLE, {"blob": {"B": b"\x00\x01"}}),
        ('{"tenant": "t", "seq": 3}', COMPOSITE, {"tenant": {"S": "t"}, "seq": {"N": "3"}}),
        ('{"seq": {"N": "3"}, "tenant": {"S": "t"}}', COMPOSITE,
         {"tenant": {"S": "t"}, "seq": {"N": "3"}}),
    ],
)  # fmt: skip
def test_key_forms(line: str, schema: KeySchema, key: dict[str, object]) -> None:
    assert parse_key_line(line, schema=schema) == key


@pytest.mark.parametrize(
    ("line", "refused"),
    [
        ("a\u200bb", False),  # a format character among visible ones is a key
        ("\u200b\u200c", True),  # only format characters: looks blank
        ("\ufeffuser-1", True),  # a byte-order mark
        ("user\x00-1", True),  # a control character
        ("user\t1", False),  # a tab is seen
        ("Zo\u00eb \U0001f680 \u00a0x", False),  # printable, and a no-break space inside
    ],
)
def test_invisible_characters_on_bare_lines(line: str, refused: bool) -> None:
    if refused:
        with pytest.raises(ValueProblem, match="invisible characters"):
            parse_key_line(line, schema=S_TABLE)
    else:
        assert parse_key_line(line, schema=S_TABLE) == {"userid": {"S": line.strip()}}


def test_a_printable_line_holds_no_invisible_character() -> None:
    """The check of bare lines returns at once when the line is printable: that is exact only
    if no printable character is hidden, or counts towards a blank line but U+0020, which
    strip() removes from both ends. Checked for every code point."""
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if char.isprintable():
            assert not _is_hidden(char), f"U+{code:04X}"
            blank = char.isspace() or unicodedata.category(char) in ("Cc", "Cf")
            assert not blank or char == " ", f"U+{code:04X}"


@pytest.mark.parametrize("line", ["", "   \n", "# comment", "  # indented comment"])
def test_blank_and_comment_lines_are_skipped(line: str) -> None:
    assert parse_key_line(line, schema=S_TABLE) is None


@pytest.mark.parametrize(
    ("line", "schema", "problem"),
    [
        ("abc", N_TABLE, "key attribute 'id' (N): 'abc' is not a number"),
        ("1" * 39, N_TABLE, "has 39 significant digits, more than the 38"),
        ("not base64!", B_TABLE, "is not valid base64"),
        ("{bad json", S_TABLE, "not valid JSON"),
        ('{"userid": 5}', S_TABLE, "key attribute 'userid' must be of type S, not N"),
        ('{"userid": {"N": "5"}}', S_TABLE, "must be of type S, not N"),
        ('{"userid": true}', S_TABLE, "must be of type S, not BOOL"),
        ('{"userid": ""}', S_TABLE, "must not be empty"),
        ('{"userid": "u", "name": "x"}', S_TABLE, "'name' is not a key attribute"),
        ('{"tenant": "t"}', COMPOSITE, "the key attribute 'seq' is missing"),
        ("t", COMPOSITE, "also has the sort key 'seq'"),
        ('{"id": NaN}', N_TABLE, "not valid JSON"),
        ('{"id": {"N": "x"}}', N_TABLE, "key attribute 'id': 'x' is not a number"),
        ("x" * 2049, S_TABLE, "over 2048 bytes"),
    ],
)  # fmt: skip
def test_key_errors(line: str, schema: KeySchema, problem: str) -> None:
    with pytest.raises(ValueProblem, match=None) as caught:
        parse_key_line(line, schema=schema)
    assert problem in str(caught.value)


def test_equal_numbers_are_the_same_key() -> None:
    one = parse_key_line("1", schema=N_TABLE)
    same = parse_key_line('{"id": 1.0}', schema=N_TABLE)
    other = parse_key_line("2", schema=N_TABLE)
    assert one is not None
    assert same is not None
    assert other is not None
    assert key_digest(one) == key_digest(same) != key_digest(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [("0", "-0"), ("1.50", "1.5"), ("1e2", "100"), ('{"id": 1E-130}', "10E-131")],
)
def test_numbers_equal_to_dynamodb_are_one_key(one: str, other: str) -> None:
    first = parse_key_line(one, schema=N_TABLE)
    second = parse_key_line(other, schema=N_TABLE)
    assert first is not None
    assert second is not None
    assert key_digest(first) == key_digest(second)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("1.0000000000000000000000000001", "1.0000000000000000000000000002"),  # 29 digits
        ("12345678901234567890123456789012345678", "12345678901234567890123456789012345679"),
    ],
)
def test_numbers_equal_only_when_rounded_are_distinct_keys(one: str, other: str) -> None:
    first = parse_key_line(one, schema=N_TABLE)
    second = parse_key_line(other, schema=N_TABLE)
    assert first is not None
    assert second is not None
    assert key_digest(first) != key_digest(second)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("1e200", "key attribute 'id' (N): 1e200 is outside the range of DynamoDB numbers"),
        ("-1e-200", "key attribute 'id' (N): -1e-200 is outside the range of DynamoDB numbers"),
        ('{"id": 1E+126}', "key attribute 'id': 1E+126 is outside the range"),
        ('{"id": {"N": "1e-131"}}', "key attribute 'id': 1e-131 is outside the range"),
        ("1" * 39, "has 39 significant digits"),
    ],
)
def test_numbers_dynamodb_cannot_store_are_refused_in_key_lines(line: str, problem: str) -> None:
    with pytest.raises(ValueProblem) as caught:
        parse_key_line(line, schema=N_TABLE)
    assert problem in str(caught.value)


@pytest.mark.parametrize("number", ["1e200", "1e-200", "1" * 39])
def test_numbers_dynamodb_cannot_store_are_refused_in_values(number: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_values_json(f'{{":n": {number}}}', flag="--values")
    assert str(caught.value).startswith(f"--values :n: {number} ")
    assert "(give --values values DynamoDB can store" in str(caught.value)


def test_the_first_duplicate_names_the_line_it_repeats(tmp_path: Path) -> None:
    path = tmp_path / "k.txt"
    path.write_text("5\n0\n7\n-0\n5.0\n0.0\n", encoding="utf-8")
    with open_key_file(str(path), schema=N_TABLE) as plan:
        assert plan.keys_total == 3
        assert plan.duplicate_lines == {4, 5, 6}
        assert plan.keys_duplicate == 3
        assert plan.first_duplicate == (4, 2)


def test_no_duplicate_no_first_duplicate(tmp_path: Path) -> None:
    path = tmp_path / "k.txt"
    path.write_text("5\n6\n", encoding="utf-8")
    with open_key_file(str(path), schema=N_TABLE) as plan:
        assert (plan.keys_duplicate, plan.first_duplicate) == (0, None)


def test_key_file_counts_distinct_keys_and_skips_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "k.txt"
    path.write_text('a\n\n# c\nb\na\n{"userid": "b"}\nc')
    with open_key_file(str(path), schema=S_TABLE) as plan:
        assert plan.keys_total == 3
        assert plan.lines_total == 7
        assert plan.duplicate_lines == {5, 6}
        assert list(iter_keys(plan, schema=S_TABLE)) == [
            (1, {"userid": {"S": "a"}}),
            (4, {"userid": {"S": "b"}}),
            (7, {"userid": {"S": "c"}}),
        ]


def test_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "k.txt"
    path.write_text('a\nb\n\n{"userid": 3}\n')
    with pytest.raises(KeyLineError) as caught, open_key_file(str(path), schema=S_TABLE):
        pass
    assert caught.value.line_no == 4
    assert str(caught.value).startswith(f"{path} line 4: key attribute 'userid' must be of type S")


def test_invalid_utf8_is_reported_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "k.txt"
    path.write_bytes(b"a\n\xff\xfe\n")
    with (
        pytest.raises(KeyLineError, match="line 2: is not valid UTF-8"),
        open_key_file(str(path), schema=S_TABLE),
    ):
        pass


def test_stdin_is_spooled_and_removed(tmp_path: Path) -> None:
    stdin = io.BytesIO(b"a\nb\na\n")
    with open_key_file("-", schema=S_TABLE, stdin=stdin) as plan:
        assert plan.display_name == "stdin"
        assert plan.path.exists()
        assert [key for _, key in iter_keys(plan, schema=S_TABLE)] == [
            {"userid": {"S": "a"}},
            {"userid": {"S": "b"}},
        ]
    assert not plan.path.exists()


def test_stdin_errors_say_stdin() -> None:
    with (
        pytest.raises(KeyLineError, match=r"^stdin line 2: "),
        open_key_file("-", schema=N_TABLE, stdin=io.BytesIO(b"1\nx\n")),
    ):
        pass


def test_missing_key_file() -> None:
    with (
        pytest.raises(InputError, match="cannot read the key file"),
        open_key_file("/nonexistent/keys.txt", schema=S_TABLE),
    ):
        pass


def test_values_plain_and_typed() -> None:
    values = parse_values_json(
        '{":s": "x", ":n": 12.50, ":t": {"S": "y"}, ":b": {"B": "AAE="}, ":l": [1, true, null],'
        ' ":m": {"a": "b"}}',
        flag="--values",
    )
    assert values == {
        ":s": {"S": "x"},
        ":n": {"N": "12.50"},
        ":t": {"S": "y"},
        ":b": {"B": b"\x00\x01"},
        ":l": {"L": [{"N": "1"}, {"BOOL": True}, {"NULL": True}]},
        ":m": {"M": {"a": {"S": "b"}}},
    }


@pytest.mark.parametrize(
    ("text", "problem"),
    [("[1]", "must be a JSON object"), ("{", "not valid JSON"), ('{":x": {"N": "q"}}', ":x")],
)
def test_values_errors(text: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        parse_values_json(text, flag="--values")
