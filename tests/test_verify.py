"""`asynccopy verify` against the sandbox: identical, missing, different, and bad input."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import pytest

from asynccopy.aws import AwsTarget
from asynccopy.read.tables import KeyAttribute, KeySchema, TableInfo
from asynccopy.sandbox.profiles import DEST_PROFILE, SOURCE_PROFILE
from asynccopy.sandbox.seed import SeedConfig, seed
from asynccopy.verify.tables import _table_arn
from tests.sandbox_helpers import Sandbox, create_table, hard_items

ITEMS = 300


def _copy_table_directly(sandbox: Sandbox) -> list[dict[str, Any]]:
    """The source items, written to the destination table with plain BatchWriteItem."""
    items: list[dict[str, Any]] = []
    for page in sandbox.source("dynamodb").get_paginator("scan").paginate(TableName="users"):
        items.extend(page["Items"])
    dest = sandbox.dest("dynamodb")
    for start in range(0, len(items), 25):
        requests = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        assert not dest.batch_write_item(RequestItems={"users": requests})["UnprocessedItems"]
    return items


@pytest.fixture
def copied(sandbox: Sandbox, tmp_path: Path) -> tuple[Sandbox, Path, list[dict[str, Any]]]:
    keys = tmp_path / "keys.txt"
    seed(SeedConfig(items=ITEMS, item_bytes=600, keys_out=keys), endpoint_url=sandbox.endpoint_url)
    return sandbox, keys, _copy_table_directly(sandbox)


def _verify(sandbox: Sandbox, *args: str) -> tuple[int, dict[str, Any], str]:
    return sandbox.run_json(
        *("verify", "--table", "users", "--profile", SOURCE_PROFILE),
        *("--dest-profile", DEST_PROFILE, "--no-progress", "--json", *args),
        env=sandbox.profile_env,
    )


@pytest.mark.parametrize("selection", [["--keys", "KEYS"], ["--scan", "--segments", "3"]])
def test_identical_copy_exits_0(
    copied: tuple[Sandbox, Path, list[Any]], selection: list[str]
) -> None:
    sandbox, keys, _ = copied
    args = [str(keys) if arg == "KEYS" else arg for arg in selection]
    code, summary, stderr = _verify(sandbox, *args)
    assert code == 0, stderr
    assert summary["identical"] is True
    assert summary["items_compared"] == ITEMS
    assert summary["items_identical"] == ITEMS


def test_text_verdict_names_the_count(copied: tuple[Sandbox, Path, list[Any]]) -> None:
    sandbox, keys, _ = copied
    done = sandbox.run_cli(
        *("verify", "--table", "users", "--keys", str(keys), "--profile", SOURCE_PROFILE),
        *("--dest-profile", DEST_PROFILE, "--no-progress"),
        env=sandbox.profile_env,
    )
    assert done.returncode == 0, done.stderr
    assert f"{ITEMS} of {ITEMS} items identical" in done.stdout


def test_a_table_is_not_compared_with_itself(copied: tuple[Sandbox, Path, list[Any]]) -> None:
    sandbox, keys, _ = copied
    # A deleted destination item: a comparison of the source with itself would still say
    # "identical", exit 0.
    (first, *_) = keys.read_text().split()
    sandbox.dest("dynamodb").delete_item(TableName="users", Key={"userid": {"S": first}})
    base = ("verify", "--table", "users", "--keys", str(keys), "--no-progress", "--json")

    code, summary, stderr = sandbox.run_json(*base)  # no --dest-* option at all
    assert code == 2, stderr
    assert summary == {}
    assert len(stderr.splitlines()) == 1, stderr
    assert "verify would compare arn:aws:dynamodb:" in stderr
    assert ":111111111111:table/users with itself: no --dest-* option was given" in stderr
    assert "(name the destination with --dest-profile or --dest-role-arn" in stderr

    # The same endpoint named again is still the same table: the account is what is missing.
    code, _, stderr = sandbox.run_json(*base, "--dest-endpoint-url", sandbox.endpoint_url)
    assert code == 2, stderr
    assert "--dest-endpoint-url still names the source table" in stderr
    assert "--dest-profile or --dest-role-arn for the destination's account" in stderr

    code, summary, stderr = sandbox.run_json(
        *base, "--dest-profile", DEST_PROFILE, "--profile", SOURCE_PROFILE, env=sandbox.profile_env
    )
    assert code == 1, stderr
    assert summary["items_missing"] == 1


def test_missing_and_different_items_are_reported_by_key(
    copied: tuple[Sandbox, Path, list[dict[str, Any]]],
) -> None:
    sandbox, keys, items = copied
    dest = sandbox.dest("dynamodb")
    by_id = {item["userid"]["S"]: item for item in items}
    ids = sorted(by_id)
    for gone in ids[:2]:
        dest.delete_item(TableName="users", Key={"userid": {"S": gone}})
    changed = dict(by_id[ids[2]], age={"N": "1000"})
    dest.put_item(TableName="users", Item=changed)
    # Equal as numbers and as sets: not a difference.
    same = dict(by_id[ids[3]], rating={"N": "12.50"})
    same["tags"] = {"SS": list(reversed(same["tags"]["SS"]))}
    dest.put_item(TableName="users", Item=same)

    code, summary, _ = _verify(sandbox, "--keys", str(keys))
    assert code == 1
    assert summary["items_missing"] == 2
    assert summary["items_different"] == 1
    assert summary["items_identical"] == ITEMS - 3
    assert {json.loads(k)["userid"]["S"] for k in summary["missing_keys"]} == set(ids[:2])
    (different,) = summary["different_keys"]
    assert json.loads(different["key"])["userid"]["S"] == ids[2]
    assert different["attributes"] == ["age"]


def test_keys_absent_from_the_source_are_not_differences(
    copied: tuple[Sandbox, Path, list[Any]], tmp_path: Path
) -> None:
    sandbox, keys, _ = copied
    more = tmp_path / "more.txt"
    more.write_text(keys.read_text() + "no-such-user\n")
    code, summary, _ = _verify(sandbox, "--keys", str(more))
    assert code == 0
    assert summary["keys_absent_from_source"] == 1
    assert summary["items_compared"] == ITEMS


def test_missing_destination_table_is_bad_input(copied: tuple[Sandbox, Path, list[Any]]) -> None:
    sandbox, keys, _ = copied
    code, summary, stderr = _verify(sandbox, "--keys", str(keys), "--dest-table", "nope")
    assert code == 2
    assert summary == {}
    assert stderr.strip().count("\n") == 0
    assert "nope" in stderr


class _FakeSts:
    async def __aenter__(self) -> _FakeSts:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None

    async def get_caller_identity(self) -> dict[str, str]:
        return {"Account": "123456789012"}


class _FakeSession:
    def client(self, service: str, **_: Any) -> _FakeSts:
        assert service == "sts"
        return _FakeSts()


def test_a_table_without_an_arn_is_named_by_the_callers_account() -> None:
    table = TableInfo(
        name="users",
        key_schema=KeySchema(partition=KeyAttribute(name="userid", type="S")),
        billing_mode="PAY_PER_REQUEST",
        provisioned_rcu=0,
        item_count=0,
        size_bytes=0,
    )
    client = SimpleNamespace(meta=SimpleNamespace(region_name="eu-west-1"))
    arn = anyio.run(
        lambda: _table_arn(table, client=client, session=_FakeSession(), target=AwsTarget())
    )
    assert arn == "arn:aws:dynamodb:eu-west-1:123456789012:table/users"


def test_both_engines_give_the_same_verdicts_on_the_hard_values(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    source, dest = sandbox.source("dynamodb"), sandbox.dest("dynamodb")
    items = hard_items()
    for ddb in (source, dest):
        create_table(ddb, "hard", ("pk", "S"), ("sk", "B"))
        for item in items:
            ddb.put_item(TableName="hard", Item=item)
    numbers, blob, text, _large = items
    dest.delete_item(TableName="hard", Key={"pk": numbers["pk"], "sk": numbers["sk"]})
    dest.put_item(TableName="hard", Item={**blob, "all": {"B": bytes(range(255))}})  # a byte short
    # The same values written differently (set order): not a difference on either engine.
    dest.put_item(TableName="hard", Item={**text, "ss": {"SS": list(reversed(text["ss"]["SS"]))}})
    keys = tmp_path / "hard-keys.txt"
    lines = [
        json.dumps({"pk": i["pk"]["S"], "sk": base64.b64encode(i["sk"]["B"]).decode()})
        for i in items
    ]
    keys.write_text("\n".join([*lines, '{"pk": "absent", "sk": "AQ=="}']) + "\n")
    verdicts: dict[str, dict[str, Any]] = {}
    for engine in ("fast", "botocore"):
        for selection in (["--keys", str(keys)], ["--scan", "--segments", "2"]):
            code, summary, stderr = sandbox.run_json(
                *("verify", "--table", "hard", "--profile", SOURCE_PROFILE, *selection),
                *("--dest-profile", DEST_PROFILE, "--engine", engine, "--no-progress", "--json"),
                env=sandbox.profile_env,
            )
            assert code == 1, stderr
            assert summary["items_compared"] == len(items)
            assert summary["items_identical"] == 2
            assert summary["items_missing"] == 1
            assert summary["items_different"] == 1
            (different,) = summary["different_keys"]
            assert different["attributes"] == ["all"]
            assert json.loads(different["key"])["pk"] == blob["pk"]
            for timing in ("elapsed_s", "rcu_source", "rcu_dest"):
                del summary[timing]
            verdicts[f"{engine} {selection[0]}"] = summary
    assert verdicts["fast --keys"] == verdicts["botocore --keys"]
    assert verdicts["fast --scan"] == verdicts["botocore --scan"]
    assert verdicts["fast --keys"]["keys_absent_from_source"] == 1
