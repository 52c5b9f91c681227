"""--attributes parsed into paths and escaped into a ProjectionExpression."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asynccopy.read.projection import Projection, ProjectionError, Step, parse_attributes

# Names with dots, spaces, commas, quotes, brackets, reserved words and non-ASCII letters.
names = st.one_of(
    st.sampled_from(["name", "status", "a.b", "with space", 'say "hi"', "x,y", "t[0]", "ünï"]),
    st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12),
)
paths = st.tuples(
    names, st.lists(st.one_of(names, st.integers(min_value=0, max_value=999)), max_size=3)
).map(lambda head_rest: (head_rest[0], *head_rest[1]))


def _quoted(path: tuple[Step, ...]) -> str:
    """A path written with every name quoted: the form that must work for any name."""
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            out += ("." if out else "") + '"' + step.replace('"', '""') + '"'
    return out


def _resolve(arguments: dict[str, object]) -> list[str]:
    """The expression with each placeholder replaced by its name in brackets, for reading."""
    names_by_placeholder = arguments["ExpressionAttributeNames"]
    assert isinstance(names_by_placeholder, dict)
    expression = arguments["ProjectionExpression"]
    assert isinstance(expression, str)
    return [
        re.sub(r"#a[0-9]+", lambda m: "<" + names_by_placeholder[m[0]] + ">", part)
        for part in expression.split(", ")
    ]


def _overlap(chosen: list[tuple[Step, ...]]) -> bool:
    return any(len(b) > len(a) and b[: len(a)] == a for a in chosen for b in chosen)


@given(st.lists(paths, min_size=1, max_size=5, unique=True).filter(lambda c: not _overlap(c)))
def test_any_names_round_trip_through_quotes(chosen: list[tuple[Step, ...]]) -> None:
    projection = parse_attributes(",".join(_quoted(path) for path in chosen))
    assert projection.paths == tuple(chosen)


@given(st.lists(paths, min_size=1, max_size=5, unique=True))
def test_every_name_is_a_placeholder(chosen: list[tuple[Step, ...]]) -> None:
    arguments = Projection(paths=tuple(chosen)).arguments()
    expression = arguments["ProjectionExpression"]
    assert isinstance(expression, str)
    # Only placeholders, dots, brackets, digits and separators: no name reaches the expression.
    assert re.fullmatch(r"(#a[0-9]+|\.|\[[0-9]+\]|, )+", expression)
    names_used = arguments["ExpressionAttributeNames"]
    assert isinstance(names_used, dict)
    assert set(names_used.values()) == {s for path in chosen for s in path if isinstance(s, str)}


def test_unquoted_dots_are_nested_paths_and_quoted_ones_are_names() -> None:
    projection = parse_attributes(' userid, profile.address.city ,"weird.name", tags[0].id')
    assert projection.paths == (
        ("userid",),
        ("profile", "address", "city"),
        ("weird.name",),
        ("tags", 0, "id"),
    )
    assert _resolve(projection.arguments()) == [
        "<userid>",
        "<profile>.<address>.<city>",
        "<weird.name>",
        "<tags>[0].<id>",
    ]


def test_keys_are_added_unless_read_whole() -> None:
    projection = parse_attributes("firstname,tenant.x").with_keys(["tenant", "seq"])
    assert projection.paths == (("tenant",), ("seq",), ("firstname",))
    assert parse_attributes("seq,a").with_keys(["seq"]).paths == (("seq",), ("a",))
    # Inside a key attribute: the whole key is read, DynamoDB refuses overlapping paths.
    assert parse_attributes("seq.x,a").with_keys(["seq"]).paths == (("seq",), ("a",))


def test_placeholders_avoid_the_callers_names() -> None:
    arguments = parse_attributes("name").arguments(names={"#a0": "status"})
    assert arguments == {
        "ProjectionExpression": "#a1",
        "ExpressionAttributeNames": {"#a0": "status", "#a1": "name"},
    }


def test_duplicates_are_dropped() -> None:
    assert parse_attributes("a,a,b").paths == (("a",), ("b",))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "names no attribute"),
        ("  ", "names no attribute"),
        ("a,,b", "an attribute name is missing"),
        ("a.", "an attribute name is missing"),
        (".a", "an attribute name is missing"),
        ('"open', "a quoted name is not closed"),
        ('""', "a quoted name is empty"),
        ("a[x]", "a list index must be a number"),
        ("a[1", "a list index must be a number"),
        ("[0]", "an attribute name is missing"),
        ("a b", "unexpected 'b'"),
        ("profile,profile.address.city", "profile already includes profile.address.city"),
    ],
)
def test_malformed_attributes_are_refused_with_a_hint(text: str, problem: str) -> None:
    with pytest.raises(ProjectionError) as caught:
        parse_attributes(text)
    assert problem in str(caught.value)
    assert str(caught.value).endswith(")")
    assert caught.value.exit_code == 2
