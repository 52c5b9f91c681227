"""`asynccopy schema`: the source table's definition printed for CreateTable and CloudFormation,
and created in the destination account, against the sandbox; the definition's pure parts
and the wait for ACTIVE without sleeping.

The emulator accepts CreateTable's WarmThroughput but reports 0 for it in DescribeTable, so
pre-warming is checked in the request asynccopy sends, not in the table it gets back.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import botocore.session
import pytest
from botocore.validate import ParamValidator

from asynccopy.sandbox.profiles import DEST_PROFILE, SOURCE_PROFILE
from asynccopy.schema.create import create_table
from asynccopy.schema.definition import (
    WarmThroughput,
    definition_from_description,
    parse_warm_throughput,
)
from asynccopy.schema.errors import TableNotActiveError, WarmThroughputError
from tests.sandbox_helpers import Sandbox
from tests.sandbox_helpers import create_table as create_simple_table

CFN_LINT = Path(sys.executable).parent / "cfn-lint"
TABLE = "orders"


def _keys(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [
        {"AttributeName": name, "KeyType": kind}
        for (name, _), kind in zip(pairs, ("HASH", "RANGE"), strict=False)
    ]


def make_source_table(ddb: Any, *, provisioned: bool) -> None:
    """Two global indexes (ALL; INCLUDE), a local index (KEYS_ONLY), a stream, TTL on
    `expires`, Standard-IA and deletion protection."""
    throughput = {"ReadCapacityUnits": 7, "WriteCapacityUnits": 3}
    capacity: dict[str, Any] = {"ProvisionedThroughput": throughput} if provisioned else {}
    ddb.create_table(
        TableName=TABLE,
        KeySchema=_keys(("tenant", "S"), ("seq", "N")),
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": kind}
            for name, kind in (
                ("tenant", "S"),
                ("seq", "N"),
                ("email", "S"),
                ("blob", "B"),
                ("created", "N"),
            )
        ],
        BillingMode="PROVISIONED" if provisioned else "PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-email",
                "KeySchema": _keys(("email", "S")),
                "Projection": {"ProjectionType": "ALL"},
                **capacity,
            },
            {
                "IndexName": "by-blob",
                "KeySchema": _keys(("blob", "B"), ("seq", "N")),
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["name", "x"]},
                **capacity,
            },
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "by-created",
                "KeySchema": _keys(("tenant", "S"), ("created", "N")),
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        TableClass="STANDARD_INFREQUENT_ACCESS",
        DeletionProtectionEnabled=True,
        **capacity,
    )
    ddb.update_time_to_live(
        TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"}
    )


def _index_parts(index: dict[str, Any]) -> dict[str, Any]:
    parts = {
        "KeySchema": index["KeySchema"],
        "ProjectionType": index["Projection"]["ProjectionType"],
        "NonKeyAttributes": sorted(index["Projection"].get("NonKeyAttributes", [])),
    }
    throughput = index.get("ProvisionedThroughput", {})
    parts["capacity"] = (
        throughput.get("ReadCapacityUnits", 0),
        throughput.get("WriteCapacityUnits", 0),
    )
    return parts


def what_matters(ddb: Any, table: str) -> dict[str, Any]:
    """The parts of DescribeTable and DescribeTimeToLive a copy's destination must share."""
    described = ddb.describe_table(TableName=table)["Table"]
    ttl = ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    throughput = described.get("ProvisionedThroughput", {})
    return {
        "KeySchema": described["KeySchema"],
        "AttributeDefinitions": sorted(
            (d["AttributeName"], d["AttributeType"]) for d in described["AttributeDefinitions"]
        ),
        "BillingMode": described.get("BillingModeSummary", {}).get("BillingMode"),
        "capacity": (
            throughput.get("ReadCapacityUnits", 0),
            throughput.get("WriteCapacityUnits", 0),
        ),
        "GlobalSecondaryIndexes": {
            i["IndexName"]: _index_parts(i) for i in described.get("GlobalSecondaryIndexes", [])
        },
        "LocalSecondaryIndexes": {
            i["IndexName"]: _index_parts(i) for i in described.get("LocalSecondaryIndexes", [])
        },
        "Stream": described.get("StreamSpecification"),
        "TableClass": described.get("TableClassSummary", {}).get("TableClass"),
        "DeletionProtectionEnabled": described.get("DeletionProtectionEnabled"),
        "TTL": (ttl.get("TimeToLiveStatus"), ttl.get("AttributeName")),
    }


def _schema(sandbox: Sandbox, *args: str) -> subprocess.CompletedProcess[str]:
    return sandbox.run_cli(
        "schema", "--table", TABLE, "--profile", SOURCE_PROFILE, *args, env=sandbox.profile_env
    )


# --- against the sandbox ----------------------------------------------------------------------
def test_create_round_trips_indexes_ttl_and_capacity_into_the_destination(
    sandbox: Sandbox,
) -> None:
    make_source_table(sandbox.source("dynamodb"), provisioned=True)

    done = _schema(sandbox, "--create", "--dest-profile", DEST_PROFILE)

    assert done.returncode == 0, done.stderr
    assert "created table 'orders' in the destination" in done.stdout
    assert "by-email, by-blob ACTIVE" in done.stdout
    assert "TTL enabled on 'expires'" in done.stdout
    source = what_matters(sandbox.source("dynamodb"), TABLE)
    assert source["TTL"] == ("ENABLED", "expires")
    assert source["GlobalSecondaryIndexes"]["by-email"]["capacity"] == (7, 3)
    assert what_matters(sandbox.dest("dynamodb"), TABLE) == source

    # The same table again: nothing to do, and still exit 0.
    again = _schema(sandbox, "--create", "--dest-profile", DEST_PROFILE)
    assert again.returncode == 0, again.stderr
    assert "already exists in the destination with the same key" in again.stdout
    assert "nothing to do" in again.stdout


def test_an_existing_table_with_another_key_is_refused(sandbox: Sandbox) -> None:
    make_source_table(sandbox.source("dynamodb"), provisioned=False)
    create_simple_table(sandbox.dest("dynamodb"), TABLE, ("tenant", "S"))  # no sort key

    done = _schema(sandbox, "--create", "--dest-profile", DEST_PROFILE)

    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert (
        "the destination table 'orders' already exists with the key tenant (S, HASH), not the "
        "source's tenant (S, HASH), seq (N, RANGE) (choose another name with --dest-table"
    ) in done.stderr
    described = sandbox.dest("dynamodb").describe_table(TableName=TABLE)["Table"]
    assert len(described["KeySchema"]) == 1  # left as it was


def test_an_existing_table_with_the_same_key_is_left_alone_saying_what_it_lacks(
    sandbox: Sandbox,
) -> None:
    make_source_table(sandbox.source("dynamodb"), provisioned=False)
    create_simple_table(sandbox.dest("dynamodb"), TABLE, ("tenant", "S"), ("seq", "N"))

    done = _schema(sandbox, "--create", "--dest-profile", DEST_PROFILE)

    assert done.returncode == 0, done.stderr
    assert (
        "table 'orders' already exists in the destination with the same key (tenant (S, HASH),"
        " seq (N, RANGE)): left as it is, but it lacks what the source has: global indexes"
        " by-email, by-blob; local index by-created; TTL on 'expires'."
    ) in done.stdout
    described = sandbox.dest("dynamodb").describe_table(TableName=TABLE)["Table"]
    assert "GlobalSecondaryIndexes" not in described  # left as it was


def test_dry_run_creates_nothing_and_says_what_a_new_on_demand_table_absorbs(
    sandbox: Sandbox,
) -> None:
    make_source_table(sandbox.source("dynamodb"), provisioned=False)

    done = _schema(
        sandbox, "--create", "--dry-run", "--dest-profile", DEST_PROFILE, "--dest-table", "copy"
    )

    assert done.returncode == 0, done.stderr
    assert "dry run: nothing was created. It would create table 'copy'" in done.stdout
    assert "enable TTL on 'expires'" in done.stdout
    assert "warm throughput of 4,000 write units per second" in done.stdout
    assert "MaximumConcurrency 9 and up" in done.stdout
    assert "--warm-throughput READS,WRITES" in done.stdout
    assert sandbox.dest("dynamodb").list_tables()["TableNames"] == []

    warmed = _schema(
        sandbox, "--create", "--dry-run", "--dest-profile", DEST_PROFILE,
        "--warm-throughput", "13000,6000",
    )  # fmt: skip
    assert warmed.returncode == 0, warmed.stderr
    assert "pre-warmed to 13,000 reads and 6,000 writes per second" in warmed.stdout
    assert '"WriteUnitsPerSecond": 6000' in warmed.stdout


def test_cli_input_json_is_valid_create_table_input_without_described_only_fields(
    sandbox: Sandbox,
) -> None:
    make_source_table(sandbox.source("dynamodb"), provisioned=False)

    done = _schema(sandbox, "--warm-throughput", "13000,5000")

    assert done.returncode == 0, done.stderr
    request = json.loads(done.stdout)
    model = botocore.session.get_session().get_service_model("dynamodb")
    report = ParamValidator().validate(request, model.operation_model("CreateTable").input_shape)
    assert not report.has_errors(), report.generate_report()
    assert request["BillingMode"] == "PAY_PER_REQUEST"
    assert "ProvisionedThroughput" not in request  # on-demand's zeros are not accepted
    assert all("ProvisionedThroughput" not in i for i in request["GlobalSecondaryIndexes"])
    assert request["WarmThroughput"] == {"ReadUnitsPerSecond": 13000, "WriteUnitsPerSecond": 5000}
    assert request["TableClass"] == "STANDARD_INFREQUENT_ACCESS"
    assert request["DeletionProtectionEnabled"] is True
    # CreateTable has no TTL: the command to enable it is on stderr.
    assert "update-time-to-live --table-name orders" in done.stderr
    assert "AttributeName=expires" in done.stderr


def test_cloudformation_template_passes_cfn_lint(sandbox: Sandbox, tmp_path: Path) -> None:
    make_source_table(sandbox.source("dynamodb"), provisioned=True)

    done = _schema(sandbox, "--format", "cloudformation", "--warm-throughput", "13000,5000")

    assert done.returncode == 0, done.stderr
    template = json.loads(done.stdout)
    properties = template["Resources"]["Table"]["Properties"]
    assert template["Resources"]["Table"]["Type"] == "AWS::DynamoDB::Table"
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expires", "Enabled": True}
    assert properties["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert properties["ProvisionedThroughput"] == {"ReadCapacityUnits": 7, "WriteCapacityUnits": 3}
    path = tmp_path / "table.json"
    path.write_text(done.stdout, encoding="utf-8")
    lint = subprocess.run(
        [str(CFN_LINT), str(path)], capture_output=True, text=True, check=False, timeout=120
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


# --- pure parts -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("abc", "expected READS,WRITES"),
        ("12000", "expected READS,WRITES"),
        ("12000,-1", "expected READS,WRITES"),
        ("0,4000", "both numbers must be more than zero"),
    ],
)
def test_bad_warm_throughput_is_named(text: str, problem: str) -> None:
    with pytest.raises(WarmThroughputError, match=problem):
        parse_warm_throughput(text)


def test_warm_throughput_is_parsed() -> None:
    assert parse_warm_throughput(" 13000 , 5000 ") == WarmThroughput(
        read_units_per_s=13000, write_units_per_s=5000
    )


def test_on_demand_maximum_is_kept_and_its_minus_one_dropped() -> None:
    described = {
        "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
        "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"},
        "ProvisionedThroughput": {"ReadCapacityUnits": 0, "WriteCapacityUnits": 0,
                                  "NumberOfDecreasesToday": 0},
        "OnDemandThroughput": {"MaxReadRequestUnits": 500, "MaxWriteRequestUnits": -1},
        "TableStatus": "ACTIVE", "ItemCount": 3, "TableArn": "arn:aws:dynamodb:x",
    }  # fmt: skip
    definition = definition_from_description(described, ttl_attribute=None)
    assert definition.create_input == {
        "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
        "OnDemandThroughput": {"MaxReadRequestUnits": 500},
    }


class _SlowTable:
    """A DynamoDB client whose new table is CREATING for `polls` DescribeTable calls, and
    whose index stays CREATING one call longer."""

    def __init__(self, polls: int) -> None:
        self.polls = polls
        self.calls: list[str] = []

    async def create_table(self, **request: Any) -> dict[str, Any]:
        self.calls.append("CreateTable")
        return {}

    async def describe_table(self, *, TableName: str) -> dict[str, Any]:
        self.calls.append("DescribeTable")
        seen = self.calls.count("DescribeTable")
        table = "ACTIVE" if seen > self.polls else "CREATING"
        index = "ACTIVE" if seen > self.polls + 1 else "CREATING"
        return {
            "Table": {
                "TableStatus": table,
                "GlobalSecondaryIndexes": [{"IndexName": "by-email", "IndexStatus": index}],
            }
        }

    async def update_time_to_live(self, **request: Any) -> dict[str, Any]:
        self.calls.append("UpdateTimeToLive")
        return {}


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_create_waits_for_the_indexes_before_enabling_ttl() -> None:
    client, clock = _SlowTable(polls=2), _Clock()

    anyio.run(
        lambda: create_table(
            client, {"TableName": "t"}, ttl_attribute="expires", sleep=clock.sleep, clock=clock
        )
    )

    assert client.calls == ["CreateTable", *["DescribeTable"] * 4, "UpdateTimeToLive"]


def test_a_table_that_stays_creating_is_reported_after_the_timeout() -> None:
    client, clock = _SlowTable(polls=1_000), _Clock()

    with pytest.raises(TableNotActiveError, match="the table and index 'by-email' are not ACTIVE"):
        anyio.run(
            lambda: create_table(
                client,
                {"TableName": "t"},
                ttl_attribute="expires",
                sleep=clock.sleep,
                clock=clock,
                poll_s=10,
                timeout_s=60,
            )
        )
    assert "UpdateTimeToLive" not in client.calls
