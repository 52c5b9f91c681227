"""What is read of each item, against the sandbox: `copy --attributes` and `verify --attributes`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from asynccopy.sandbox.profiles import DEST_PROFILE, SOURCE_PROFILE
from asynccopy.verify.compare import items_equal
from consumer.wire import Item
from tests.consumer_helpers import received_items, scan_all, seed_users
from tests.sandbox_helpers import Sandbox

ENGINES = ("fast", "botocore")
# Reserved words (name, status), a nested path, a name with a dot, a list element; the key
# (userid) is not listed and must come anyway.
ATTRIBUTES = 'name,status,profile.address.city,"weird.name",history[0]'
ODD_ITEMS: list[Item] = [
    {
        "userid": {"S": f"odd-{index}"},
        "status": {"S": "active"},
        "weird.name": {"N": str(index)},
        "weird": {"M": {"name": {"S": "not this one"}}},
        "secret": {"S": "must not travel"},
    }
    for index in range(2)
]


def _merge(into: dict[str, Any], fragment: dict[str, Any]) -> None:
    for name, value in fragment.items():
        if name in into and "M" in value:
            _merge(into[name]["M"], value["M"])
        else:
            into[name] = value


def _fragment(values: dict[str, Any], path: tuple[str | int, ...]) -> dict[str, Any] | None:
    """What DynamoDB returns of `path` in a map: nested maps kept, a list cut to the element."""
    head, *rest = path
    assert isinstance(head, str)
    if head not in values:
        return None
    value = values[head]
    if not rest:
        return {head: value}
    step = rest[0]
    if isinstance(step, int):
        assert len(rest) == 1, "the test projects a list element only at a path's end"
        listed = value.get("L", [])
        return {head: {"L": [listed[step]]}} if step < len(listed) else None
    inner = _fragment(value["M"], tuple(rest)) if "M" in value else None
    return None if inner is None else {head: {"M": inner}}


PATHS: tuple[tuple[str | int, ...], ...] = (
    ("userid",),
    ("name",),
    ("status",),
    ("profile", "address", "city"),
    ("weird.name",),
    ("history", 0),
)


def projected(item: Item) -> Item:
    out: dict[str, Any] = {}
    for path in PATHS:
        fragment = _fragment(dict(item), path)
        if fragment is not None:
            _merge(out, fragment)
    return out


def _seed(sandbox: Sandbox, tmp_path: Path) -> tuple[Path, str, dict[str, Item]]:
    keys, queue_url = seed_users(sandbox, tmp_path, items=20)
    ddb = sandbox.source("dynamodb")
    for item in ODD_ITEMS:
        ddb.put_item(TableName="users", Item=item)
    with keys.open("a") as lines:
        lines.writelines(f"{item['userid']['S']}\n" for item in ODD_ITEMS)
    expected = {item["userid"]["S"]: projected(item) for item in scan_all(ddb)}
    return keys, queue_url, expected


SELECTIONS = {
    "keys": ["--keys", "KEYS"],
    # The caller's own #a0 placeholder: the projection's placeholders must avoid it.
    "query": ["--query", "#a0 = :u", "--values", '{":u": "odd-1"}', "--names", '{"#a0": "userid"}'],
    "scan": ["--scan", "--segments", "2"],
}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("selection", SELECTIONS)
def test_copy_sends_only_the_chosen_attributes_and_the_key(
    sandbox: Sandbox, tmp_path: Path, engine: str, selection: str
) -> None:
    keys, queue_url, expected = _seed(sandbox, tmp_path)
    args = [str(keys) if arg == "KEYS" else arg for arg in SELECTIONS[selection]]
    code, summary, stderr = sandbox.run_json(
        *("copy", "--table", "users", *args, "--queue-url", queue_url, "--rate", "max"),
        *("--attributes", ATTRIBUTES, "--engine", engine, "--json"),
    )
    assert code == 0, stderr
    received = {item["userid"]["S"]: item for item in received_items(sandbox, queue_url)}
    if selection == "query":
        expected = {"odd-1": expected["odd-1"]}
    assert summary["items_sent"] == len(expected) == len(received)
    assert received.keys() == expected.keys()
    assert [k for k, item in expected.items() if not items_equal(received[k], item)] == []
    # The seed's users have name and a nested city but no status; the odd ones the reverse.
    user = (
        received[next(k for k in received if k.startswith("user-"))]
        if selection != "query"
        else None
    )
    if user is not None:
        assert set(user) == {"userid", "name", "profile", "history"}
        assert set(user["profile"]["M"]) == {"address"}
        assert set(user["profile"]["M"]["address"]["M"]) == {"city"}
        assert len(user["history"]["L"]) == 1
    assert received["odd-1"] == {
        "userid": {"S": "odd-1"},
        "status": {"S": "active"},
        "weird.name": {"N": "1"},
    }


def test_the_dry_run_samples_projected_items(sandbox: Sandbox, tmp_path: Path) -> None:
    keys, queue_url, _ = _seed(sandbox, tmp_path)
    code, summary, stderr = sandbox.run_json(
        *("copy", "--table", "users", "--keys", str(keys), "--queue-url", queue_url),
        *("--attributes", "updatedAt", "--dry-run", "--json"),
    )
    assert code == 0, stderr
    assert summary["items_sent"] == 0
    samples = summary["sample_items"]
    assert samples
    assert all(set(sample) <= {"userid", "updatedAt"} and "userid" in sample for sample in samples)


def _verify(sandbox: Sandbox, *args: str) -> tuple[int, dict[str, Any], str]:
    return sandbox.run_json(
        *("verify", "--table", "users", "--scan", "--profile", SOURCE_PROFILE),
        *("--dest-profile", DEST_PROFILE, "--no-progress", "--json", *args),
        env=sandbox.profile_env,
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_verify_compares_only_the_chosen_attributes(
    sandbox: Sandbox, tmp_path: Path, engine: str
) -> None:
    _, _, expected = _seed(sandbox, tmp_path)
    dest = sandbox.dest("dynamodb")
    for item in expected.values():  # the destination holds the projected items only
        dest.put_item(TableName="users", Item=item)
    code, summary, stderr = _verify(sandbox, "--attributes", ATTRIBUTES, "--engine", engine)
    assert code == 0, stderr
    assert summary["items_identical"] == summary["items_compared"] == len(expected)

    code, summary, _ = _verify(sandbox, "--engine", engine)  # whole items: they differ
    assert code == 1
    assert summary["items_different"] == len(expected)

    changed = dict(expected["odd-0"], status={"S": "changed"})
    dest.put_item(TableName="users", Item=changed)
    code, summary, _ = _verify(sandbox, "--attributes", ATTRIBUTES, "--engine", engine)
    assert code == 1
    assert summary["items_different"] == 1
    code, summary, _ = _verify(sandbox, "--attributes", "name", "--engine", engine)
    assert code == 0, "status is not compared when only name is chosen"
    assert json.dumps(summary)


# ---- items that should not travel ------------------------------------------------------------
REP = {
    "aws:rep:deleting": {"BOOL": False},
    "aws:rep:updatetime": {"N": "1700000000.123456"},
    "aws:rep:updateregion": {"S": "us-west-2"},
}
PAST_S, FUTURE_S = 1_000_000_000, 4_000_000_000  # 2001 and 2096


def _seed_items(sandbox: Sandbox, tmp_path: Path, *, ttl: bool) -> tuple[Path, str]:
    keys, queue_url = seed_users(sandbox, tmp_path, items=10)
    ddb = sandbox.source("dynamodb")
    if ttl:
        ddb.update_time_to_live(
            TableName="users",
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiresAt"},
        )
    extra: list[Item] = [
        {"userid": {"S": "rep-0"}, "note": {"S": 'text with "aws:rep: inside'}, **REP},
        {"userid": {"S": "rep-1"}, "profile": {"M": {"aws:rep:nested": {"S": "kept"}}}, **REP},
        EXPIRED,
        {"userid": {"S": "alive"}, "expiresAt": {"N": str(FUTURE_S)}},
        NOT_A_NUMBER,
    ]
    for item in extra:
        ddb.put_item(TableName="users", Item=item)
    with keys.open("a") as lines:
        lines.writelines(f"{item['userid']['S']}\n" for item in extra)
    return keys, queue_url


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("selection", ["keys", "scan"])
def test_replication_attributes_are_stripped_unless_kept(
    sandbox: Sandbox, tmp_path: Path, engine: str, selection: str
) -> None:
    keys, queue_url = _seed_items(sandbox, tmp_path, ttl=False)
    chosen = ["--keys", str(keys)] if selection == "keys" else ["--scan"]
    base = ("copy", "--table", "users", *chosen, "--queue-url", queue_url, "--rate", "max")
    code, summary, stderr = sandbox.run_json(*base, "--engine", engine, "--json")
    assert code == 0, stderr
    assert summary["items_replication_attributes_stripped"] == 2
    received = {item["userid"]["S"]: item for item in received_items(sandbox, queue_url)}
    assert not [name for item in received.values() for name in item if name.startswith("aws:rep:")]
    assert received["rep-0"]["note"] == {"S": 'text with "aws:rep: inside'}
    assert received["rep-1"]["profile"] == {"M": {"aws:rep:nested": {"S": "kept"}}}
    assert len(received) == summary["items_sent"] == 15

    code, summary, stderr = sandbox.run_json(
        *base, "--keep-replication-attributes", "--engine", engine, "--json"
    )
    assert code == 0, stderr
    assert summary["items_replication_attributes_stripped"] == 0
    received = {item["userid"]["S"]: item for item in received_items(sandbox, queue_url)}
    assert {name for name in received["rep-0"] if name.startswith("aws:rep:")} == set(REP)

    text = sandbox.run_cli(*base, "--engine", engine, "--no-progress")
    assert text.returncode == 0, text.stderr
    assert "stripped aws:rep:* attributes from 2 items" in text.stdout


_T = TypeVar("_T")
EXPIRED: Item = {"userid": {"S": "expired"}, "expiresAt": {"N": str(PAST_S)}}
# DynamoDB ignores a TTL attribute that is not a number; the emulator's reaper deletes this one
# too (it reads the string as a float), so it is put back like EXPIRED.
NOT_A_NUMBER: Item = {"userid": {"S": "not-a-number"}, "expiresAt": {"S": str(PAST_S)}}


def _while_expired_is_there(sandbox: Sandbox, run: Callable[[], _T]) -> _T:
    """`run()` while the items with a past TTL are in the table from start to end. The emulator,
    unlike DynamoDB (which takes days), deletes them every 60 s, so they are put back before
    each try and their presence after the run proves they were there throughout."""
    ddb = sandbox.source("dynamodb")
    reaped = (EXPIRED, NOT_A_NUMBER)
    for _ in range(3):
        for item in reaped:
            ddb.put_item(TableName="users", Item=item)
        result = run()
        if all(
            "Item" in ddb.get_item(TableName="users", Key={"userid": item["userid"]})
            for item in reaped
        ):
            return result
    raise AssertionError("the emulator's TTL reaper removed an item during 3 runs")


@pytest.mark.parametrize("engine", ENGINES)
def test_skip_expired_skips_items_whose_ttl_is_past(
    sandbox: Sandbox, tmp_path: Path, engine: str
) -> None:
    keys, queue_url = _seed_items(sandbox, tmp_path, ttl=True)
    base = ("copy", "--table", "users", "--keys", str(keys), "--queue-url", queue_url)
    code, summary, stderr = _while_expired_is_there(
        sandbox,
        lambda: sandbox.run_json(
            *base, "--skip-expired", "--dry-run", "--sample", "100", "--engine", engine, "--json"
        ),
    )
    assert code == 0, stderr
    assert summary["items_skipped_expired"] == 1
    assert "expired" not in {item["userid"]["S"] for item in summary["sample_items"]}
    text = _while_expired_is_there(
        sandbox, lambda: sandbox.run_cli(*base, "--skip-expired", "--dry-run", "--sample", "100")
    )
    assert "skipped 1 expired item (TTL in the past, not yet deleted)" in text.stdout

    code, summary, stderr = _while_expired_is_there(
        sandbox,
        lambda: sandbox.run_json(
            *base, "--skip-expired", "--rate", "max", "--engine", engine, "--json"
        ),
    )
    assert code == 0, stderr
    assert summary["items_skipped_expired"] == 1
    assert summary["items_read"] == 15
    assert summary["items_sent"] == 14
    sent = {item["userid"]["S"] for item in received_items(sandbox, queue_url)}
    assert "expired" not in sent
    assert {"alive", "not-a-number"} <= sent

    code, summary, stderr = _while_expired_is_there(
        sandbox,
        lambda: sandbox.run_json(*base, "--rate", "max", "--json"),  # without the flag
    )
    assert code == 0, stderr
    assert (summary["items_skipped_expired"], summary["items_sent"]) == (0, 15)
