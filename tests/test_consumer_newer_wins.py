"""The newer-wins rule (consumer.versions), case by case, and the writer applying it."""

from __future__ import annotations

from typing import Any

import pytest

from consumer.versions import (
    VERSION_MISSING,
    VERSION_NOT_COMPARABLE,
    VERSION_TYPE_MISMATCH,
    Verdict,
    newer_wins,
)
from consumer.wire import Item, encode_items
from tests.test_consumer_unit import FakeDynamo, FakeTime, RecordingSink, conditional, event, run

V = "updatedAt"


def with_version(key: str, version: dict[str, Any] | None) -> Item:
    item: Item = {"userid": {"S": key}, "name": {"S": f"from {key}"}}
    if version is not None:
        item[V] = version
    return item


@pytest.mark.parametrize(
    ("incoming", "existing", "verdict", "code"),
    [
        # The destination holds no item, or one without the attribute: the source is written.
        ({"N": "1"}, None, Verdict.WRITE, None),
        ({"N": "1"}, {}, Verdict.WRITE, None),
        # The same type: older is replaced, equal and newer are kept.
        ({"N": "2"}, {"N": "1"}, Verdict.WRITE, None),
        ({"N": "1"}, {"N": "1"}, Verdict.SKIP, None),
        ({"N": "1"}, {"N": "2"}, Verdict.SKIP, None),
        ({"S": "2026-01-02"}, {"S": "2026-01-01"}, Verdict.WRITE, None),
        ({"S": "2026-01-01"}, {"S": "2026-01-01"}, Verdict.SKIP, None),
        ({"S": "2025-12-31"}, {"S": "2026-01-01"}, Verdict.SKIP, None),
        ({"B": b"\x01\x00"}, {"B": b"\x00\xff"}, Verdict.WRITE, None),  # unsigned bytes
        ({"B": b"\x7f"}, {"B": b"\x80"}, Verdict.SKIP, None),
        # Another type in the destination: neither is newer.
        ({"N": "2"}, {"S": "1"}, Verdict.REJECT, VERSION_TYPE_MISMATCH),
        ({"S": "2"}, {"N": "1"}, Verdict.REJECT, VERSION_TYPE_MISMATCH),
        ({"N": "2"}, {"NULL": True}, Verdict.REJECT, VERSION_TYPE_MISMATCH),
        ({"N": "2"}, {"BOOL": True}, Verdict.REJECT, VERSION_TYPE_MISMATCH),
        # The incoming item has no usable version, whatever the destination holds.
        (None, None, Verdict.REJECT, VERSION_MISSING),
        (None, {"N": "1"}, Verdict.REJECT, VERSION_MISSING),
        ({"BOOL": True}, None, Verdict.REJECT, VERSION_NOT_COMPARABLE),
        ({"NULL": True}, {"N": "1"}, Verdict.REJECT, VERSION_NOT_COMPARABLE),
        ({"M": {"n": {"N": "1"}}}, None, Verdict.REJECT, VERSION_NOT_COMPARABLE),
        ({"L": [{"N": "1"}]}, {"N": "1"}, Verdict.REJECT, VERSION_NOT_COMPARABLE),
        ({"NS": ["1", "2"]}, None, Verdict.REJECT, VERSION_NOT_COMPARABLE),
    ],
)
def test_the_rule(
    incoming: dict[str, Any] | None,
    existing: dict[str, Any] | None,
    verdict: Verdict,
    code: str | None,
) -> None:
    destination = None if existing is None else with_version("k", existing or None)
    decision = newer_wins(with_version("k", incoming), destination, V)
    assert (decision.verdict, decision.code) == (verdict, code)
    if verdict is Verdict.REJECT:
        assert V in (decision.reason or "")


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        # 38 significant digits, one apart in the last: a float sees them equal.
        ("12345678901234567890123456789012345678", "12345678901234567890123456789012345679"),
        ("0.10000000000000000000000000000000000001", "0.10000000000000000000000000000000000002"),
        ("1.000000000000000000001", "1.000000000000000000002"),
        ("9.9999999999999999999999999999999999999E+125", "1E+126"),
        ("1E-130", "2E-130"),
        ("-1E+125", "-9.9999999999999999999999999999999999999E+124"),
        ("-0.5", "0"),
        ("9", "10"),  # as numbers, not as text
    ],
)
def test_numbers_compare_exactly_as_numbers(older: str, newer: str) -> None:
    up = newer_wins(with_version("k", {"N": newer}), with_version("k", {"N": older}), V)
    down = newer_wins(with_version("k", {"N": older}), with_version("k", {"N": newer}), V)
    assert (up.verdict, down.verdict) == (Verdict.WRITE, Verdict.SKIP)


@pytest.mark.parametrize(("a", "b"), [("1.50", "1.5"), ("1e2", "100"), ("-0", "0"), ("0.0", "0")])
def test_equal_numbers_written_differently_are_equal(a: str, b: str) -> None:
    decision = newer_wins(with_version("k", {"N": a}), with_version("k", {"N": b}), V)
    assert decision.verdict is Verdict.SKIP


def test_the_writer_applies_the_rule_and_rejects_what_it_cannot_compare() -> None:
    time_ = FakeTime()
    fake = FakeDynamo()
    destination = {
        "no-attr": {"userid": {"S": "no-attr"}},
        "other-type": with_version("other-type", {"S": "7"}),
        "equal": with_version("equal", {"N": "7"}),
        "older": with_version("older", {"N": "6.99999999999999999999999999999999999"}),
        "newer": with_version("newer", {"N": "7.00000000000000000000000000000000001"}),
    }
    fake.table.update(destination)
    incoming = [
        with_version("absent", {"N": "7"}),
        *(with_version(key, {"N": "7"}) for key in destination),
        with_version("missing", None),
        with_version("bool", {"BOOL": True}),
        with_version("null", {"NULL": True}),
        with_version("map", {"M": {}}),
        with_version("list", {"L": []}),
    ]
    sink = RecordingSink()
    response, summary = run(
        conditional(fake, time_, f"newer-wins:{V}", sink), event(encode_items(incoming)), time_
    )
    assert response == {"batchItemFailures": []}
    by_key = {i["userid"]["S"]: i for i in incoming}
    for key in ("absent", "no-attr", "older"):
        assert fake.table[key] == by_key[key]
    assert fake.table["equal"] == destination["equal"]
    assert fake.table["newer"] == destination["newer"]
    assert fake.table["other-type"] == destination["other-type"]
    assert (summary.items_written, summary.items_skipped, summary.items_rejected) == (3, 2, 6)
    codes = {key: code for key, code, _ in sink.sent}
    assert codes == {
        '{"userid":{"S":"other-type"}}': VERSION_TYPE_MISMATCH,
        '{"userid":{"S":"missing"}}': VERSION_MISSING,
        '{"userid":{"S":"bool"}}': VERSION_NOT_COMPARABLE,
        '{"userid":{"S":"null"}}': VERSION_NOT_COMPARABLE,
        '{"userid":{"S":"map"}}': VERSION_NOT_COMPARABLE,
        '{"userid":{"S":"list"}}': VERSION_NOT_COMPARABLE,
    }
    # Items without a usable version never reach DynamoDB.
    assert fake.put_calls == 6


def test_without_a_dead_letter_queue_an_incomparable_item_fails_its_message() -> None:
    time_ = FakeTime()
    fake = FakeDynamo()
    response, summary = run(
        conditional(fake, time_, f"newer-wins:{V}"),
        event(
            encode_items([with_version("a", {"N": "1"})]), encode_items([with_version("b", None)])
        ),
        time_,
    )
    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert set(fake.table) == {"a"}
    (failed,) = summary.failures
    assert "lacks the newer-wins attribute 'updatedAt'" in (failed.failure or "")
    assert "no dead-letter queue to send it to" in (failed.failure or "")
    assert (summary.items_rejected, summary.items_failed) == (0, 1)
