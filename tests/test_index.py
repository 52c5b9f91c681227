"""`copy --index`, against the sandbox: a Query or Scan through a secondary index sends every
selected item whole, whether the index projects every attribute or only the keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from asynccopy.verify.compare import items_equal
from consumer.wire import Item
from tests.consumer_helpers import received_items, scan_all, seed_users
from tests.sandbox_helpers import Sandbox

ENGINES = ("fast", "botocore")
TABLE = "orders"
# Projections: a GSI of the keys only (items fetched with BatchGetItem), one of every
# attribute (the pages are the items), and a local index of the keys only.
INDEXES = {"byCustomerKeys": "KEYS_ONLY", "byCustomerAll": "ALL"}


def _create_orders(ddb: Any) -> None:
    ddb.create_table(
        TableName=TABLE,
        KeySchema=[
            {"AttributeName": "tenant", "KeyType": "HASH"},
            {"AttributeName": "orderid", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": n, "AttributeType": t}
            for n, t in (("tenant", "S"), ("orderid", "S"), ("customer", "S"), ("total", "N"))
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": name,
                "KeySchema": [{"AttributeName": "customer", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": projection},
            }
            for name, projection in INDEXES.items()
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "byTotal",
                "KeySchema": [
                    {"AttributeName": "tenant", "KeyType": "HASH"},
                    {"AttributeName": "total", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def _order(number: int) -> Item:
    return {
        "tenant": {"S": f"tenant-{number % 2}"},
        "orderid": {"S": f"order-{number:03d}"},
        "customer": {"S": f"customer-{number % 3}"},
        "total": {"N": str(number * 10)},
        "note": {"S": "ü" * 300},
        "lines": {"L": [{"M": {"sku": {"S": f"sku-{number}"}, "qty": {"N": "2"}}}]},
        "blob": {"B": bytes(range(number % 50))},
    }


def _seed(sandbox: Sandbox, tmp_path: Path) -> tuple[str, dict[str, Item]]:
    _, queue_url = seed_users(sandbox, tmp_path, items=1)
    ddb = sandbox.source("dynamodb")
    _create_orders(ddb)
    for number in range(30):
        ddb.put_item(TableName=TABLE, Item=_order(number))
    return queue_url, {item["orderid"]["S"]: item for item in scan_all(ddb, TABLE)}


def _received(sandbox: Sandbox, queue_url: str) -> dict[str, Item]:
    return {item["orderid"]["S"]: item for item in received_items(sandbox, queue_url)}


def _assert_same(received: dict[str, Item], expected: dict[str, Item]) -> None:
    assert received.keys() == expected.keys()
    assert [key for key, item in expected.items() if not items_equal(received[key], item)] == []


def _copy(sandbox: Sandbox, queue_url: str, *args: str) -> tuple[int, dict[str, Any], str]:
    return sandbox.run_json(
        *("copy", "--table", TABLE, "--queue-url", queue_url, "--no-checkpoint"),
        *(*args, "--json"),
    )


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("index", INDEXES)
def test_a_query_through_an_index_sends_every_selected_item_whole(
    sandbox: Sandbox, tmp_path: Path, engine: str, index: str
) -> None:
    queue_url, table = _seed(sandbox, tmp_path)
    code, summary, stderr = _copy(
        sandbox,
        queue_url,
        *("--query", "customer = :c", "--values", '{":c": "customer-1"}', "--index", index),
        *("--engine", engine, "--rate", "50"),
    )
    assert code == 0, stderr
    expected = {key: item for key, item in table.items() if item["customer"]["S"] == "customer-1"}
    assert summary["items_sent"] == len(expected) == 10
    _assert_same(_received(sandbox, queue_url), expected)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_scan_through_a_keys_only_index_sends_every_item_whole(
    sandbox: Sandbox, tmp_path: Path, engine: str
) -> None:
    queue_url, table = _seed(sandbox, tmp_path)
    # The premise: the index's own pages hold the keys only, so the items must be fetched.
    page = sandbox.source("dynamodb").scan(TableName=TABLE, IndexName="byCustomerKeys")
    assert {name for item in page["Items"] for name in item} == {"tenant", "orderid", "customer"}
    code, summary, stderr = _copy(
        sandbox,
        queue_url,
        *("--scan", "--segments", "2", "--index", "byCustomerKeys", "--engine", engine),
    )
    assert code == 0, stderr
    assert summary["items_sent"] == len(table) == 30
    _assert_same(_received(sandbox, queue_url), table)


def test_a_query_through_a_local_index_may_read_consistently(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    queue_url, table = _seed(sandbox, tmp_path)
    code, summary, stderr = _copy(
        sandbox,
        queue_url,
        *("--query", "tenant = :t AND #total >= :n", "--names", '{"#total": "total"}'),
        *("--values", '{":t": "tenant-0", ":n": 100}', "--index", "byTotal"),
        "--consistent-read",
    )
    assert code == 0, stderr
    expected = {
        key: item
        for key, item in table.items()
        if item["tenant"]["S"] == "tenant-0" and int(item["total"]["N"]) >= 100
    }
    assert summary["items_sent"] == len(expected) == 10
    _assert_same(_received(sandbox, queue_url), expected)


def test_the_dry_run_says_how_the_index_is_read(sandbox: Sandbox, tmp_path: Path) -> None:
    queue_url, _ = _seed(sandbox, tmp_path)
    code, summary, stderr = _copy(
        sandbox,
        queue_url,
        *("--query", "customer = :c", "--values", '{":c": "customer-2"}'),
        *("--index", "byCustomerKeys", "--dry-run", "--sample", "2"),
    )
    assert code == 0, stderr
    assert summary["index_reads"] == (
        "byCustomerKeys (global, projection KEYS_ONLY): each page's keys are read whole with "
        "BatchGetItem; both reads are charged to the rate limit"
    )
    # The sample is read as the copy would: whole items, not the index's keys.
    assert len(summary["sample_items"]) == 2
    assert all("note" in item for item in summary["sample_items"])
    assert received_items(sandbox, queue_url) == []


def test_a_resume_through_another_index_is_refused(sandbox: Sandbox, tmp_path: Path) -> None:
    queue_url, _ = _seed(sandbox, tmp_path)
    checkpoint = tmp_path / "cp.json"
    query = ("--query", "customer = :c", "--values", '{":c": "customer-1"}')

    def copy(index: str, *more: str) -> tuple[int, dict[str, Any], str]:
        return sandbox.run_json(
            *("copy", "--table", TABLE, "--queue-url", queue_url, *query, "--index", index),
            *("--checkpoint", str(checkpoint), *more, "--json"),
        )

    code, summary, stderr = copy("byCustomerAll")
    assert code == 0, stderr
    code, summary, stderr = copy("byCustomerKeys", "--resume")
    assert code == 2, stderr
    assert summary == {}
    assert (
        "was written by a copy with other flags: --index 'byCustomerAll' then, 'byCustomerKeys' now"
    ) in stderr
