"""A table's definition, from DescribeTable and DescribeTimeToLive, as CreateTable input.

Pure functions: a DescribeTable `Table` dict and a TTL attribute in, a TableDefinition out, and
from it the `aws dynamodb create-table --cli-input-json` input or a CloudFormation template.
Only what CreateTable accepts is kept (API_CreateTable); DescribeTable's statuses, counts,
sizes, ARNs, dates, NumberOfDecreasesToday and an on-demand table's zero throughput are not.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from asynccopy.schema.errors import WarmThroughputError

PAY_PER_REQUEST: Final = "PAY_PER_REQUEST"
PROVISIONED: Final = "PROVISIONED"
# What a new on-demand table serves at once before DynamoDB scales it: its warm throughput
# ("A new on-demand table starts with a warm throughput of 12,000 read units per second and
# 4,000 write units per second", DynamoDB developer guide, warm-throughput-scenarios).
NEW_ON_DEMAND_WRITE_UNITS_PER_S: Final = 4_000
NEW_ON_DEMAND_READ_UNITS_PER_S: Final = 12_000


class OutputFormat(StrEnum):
    CLI_INPUT_JSON = "cli-input-json"
    CLOUDFORMATION = "cloudformation"


@dataclass(frozen=True, kw_only=True, slots=True)
class WarmThroughput:
    read_units_per_s: int
    write_units_per_s: int

    def to_api(self) -> dict[str, int]:
        return {
            "ReadUnitsPerSecond": self.read_units_per_s,
            "WriteUnitsPerSecond": self.write_units_per_s,
        }


_WARM = re.compile(r"\s*([0-9]+)\s*,\s*([0-9]+)\s*")


def parse_warm_throughput(text: str) -> WarmThroughput:
    """`READS,WRITES` in units per second, both whole and above zero."""
    match = _WARM.fullmatch(text)
    if match is None:
        raise WarmThroughputError(text=text, problem="expected READS,WRITES (two whole numbers)")
    reads, writes = int(match[1]), int(match[2])
    if reads <= 0 or writes <= 0:
        raise WarmThroughputError(text=text, problem="both numbers must be more than zero")
    return WarmThroughput(read_units_per_s=reads, write_units_per_s=writes)


@dataclass(frozen=True, kw_only=True, slots=True)
class TableDefinition:
    """CreateTable's input for a table named `table_name` (no name yet: see `request`), and
    the TTL attribute to enable after it, which CreateTable does not take."""

    create_input: dict[str, Any]  # CreateTable parameters, without TableName
    ttl_attribute: str | None

    def key_signature(self) -> str:
        return key_signature(self.create_input)

    @property
    def on_demand(self) -> bool:
        return bool(self.create_input.get("BillingMode") == PAY_PER_REQUEST)

    def request(self, *, table_name: str, warm: WarmThroughput | None = None) -> dict[str, Any]:
        """CreateTable parameters for `table_name`, pre-warmed to `warm` if given."""
        request = {"TableName": table_name, **self.create_input}
        if warm is not None:
            request["WarmThroughput"] = warm.to_api()
        return request


def key_signature(table: dict[str, Any]) -> str:
    """A table's key as text, e.g. `tenant (S, HASH), seq (N, RANGE)`, from DescribeTable or
    CreateTable parameters: two tables take the same items when their signatures are equal."""
    types = {d["AttributeName"]: d["AttributeType"] for d in table["AttributeDefinitions"]}
    ordered = sorted(table["KeySchema"], key=lambda element: element["KeyType"])  # HASH first
    return ", ".join(
        f"{e['AttributeName']} ({types[e['AttributeName']]}, {e['KeyType']})" for e in ordered
    )


def _throughput(described: dict[str, Any] | None) -> dict[str, int] | None:
    """Provisioned capacity, or None for on-demand's zeros (CreateTable refuses them)."""
    if not described:
        return None
    reads = int(described.get("ReadCapacityUnits", 0) or 0)
    writes = int(described.get("WriteCapacityUnits", 0) or 0)
    if reads <= 0 or writes <= 0:
        return None
    return {"ReadCapacityUnits": reads, "WriteCapacityUnits": writes}


def _on_demand_maximum(described: dict[str, Any] | None) -> dict[str, int] | None:
    """An on-demand table's or index's own maximum; -1 (no maximum) is left out."""
    kept = {
        name: int(value)
        for name, value in (described or {}).items()
        if name in ("MaxReadRequestUnits", "MaxWriteRequestUnits") and int(value) > 0
    }
    return kept or None


def _projection(described: dict[str, Any]) -> dict[str, Any]:
    projection: dict[str, Any] = {"ProjectionType": described.get("ProjectionType", "ALL")}
    if described.get("NonKeyAttributes"):
        projection["NonKeyAttributes"] = list(described["NonKeyAttributes"])
    return projection


def _index(described: dict[str, Any], *, provisioned: bool, is_global: bool) -> dict[str, Any]:
    index: dict[str, Any] = {
        "IndexName": described["IndexName"],
        "KeySchema": [dict(e) for e in described["KeySchema"]],
        "Projection": _projection(described["Projection"]),
    }
    if is_global:
        throughput = _throughput(described.get("ProvisionedThroughput"))
        if provisioned and throughput is not None:
            index["ProvisionedThroughput"] = throughput
        maximum = _on_demand_maximum(described.get("OnDemandThroughput"))
        if not provisioned and maximum is not None:
            index["OnDemandThroughput"] = maximum
    return index


def definition_from_description(
    table: dict[str, Any], *, ttl_attribute: str | None
) -> TableDefinition:
    """What CreateTable needs to make a table like the described one (DescribeTable's `Table`)."""
    billing = table.get("BillingModeSummary", {}).get("BillingMode", PROVISIONED)
    provisioned = billing == PROVISIONED
    create: dict[str, Any] = {
        "AttributeDefinitions": [dict(d) for d in table["AttributeDefinitions"]],
        "KeySchema": [dict(e) for e in table["KeySchema"]],
        "BillingMode": billing,
    }
    throughput = _throughput(table.get("ProvisionedThroughput"))
    if provisioned and throughput is not None:
        create["ProvisionedThroughput"] = throughput
    maximum = _on_demand_maximum(table.get("OnDemandThroughput"))
    if not provisioned and maximum is not None:
        create["OnDemandThroughput"] = maximum
    for field, is_global in (("GlobalSecondaryIndexes", True), ("LocalSecondaryIndexes", False)):
        if table.get(field):
            create[field] = [
                _index(index, provisioned=provisioned, is_global=is_global)
                for index in table[field]
            ]
    stream = table.get("StreamSpecification") or {}
    if stream.get("StreamEnabled"):
        create["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": stream["StreamViewType"],
        }
    table_class = table.get("TableClassSummary", {}).get("TableClass")
    if table_class:
        create["TableClass"] = table_class
    if "DeletionProtectionEnabled" in table:
        create["DeletionProtectionEnabled"] = bool(table["DeletionProtectionEnabled"])
    return TableDefinition(create_input=create, ttl_attribute=ttl_attribute)


def ttl_attribute_of(description: dict[str, Any]) -> str | None:
    """The TTL attribute of a DescribeTimeToLive `TimeToLiveDescription`, if TTL is on (or
    being turned on); None when it is off or being turned off."""
    if description.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
        name = description.get("AttributeName")
        return str(name) if name else None
    return None


def cli_input_json(request: dict[str, Any]) -> str:
    """The input of `aws dynamodb create-table --cli-input-json`: CreateTable's parameters."""
    return json.dumps(request, indent=2)


def cloudformation_template(
    definition: TableDefinition, *, table_name: str, warm: WarmThroughput | None = None
) -> str:
    """A CloudFormation template (JSON) with the table as one AWS::DynamoDB::Table resource."""
    request = definition.request(table_name=table_name, warm=warm)
    properties: dict[str, Any] = {}
    for name, value in request.items():
        if name == "StreamSpecification":
            # CloudFormation's StreamSpecification has only StreamViewType: present = enabled.
            properties[name] = {"StreamViewType": value["StreamViewType"]}
        else:
            properties[name] = value
    if definition.ttl_attribute is not None:
        properties["TimeToLiveSpecification"] = {
            "AttributeName": definition.ttl_attribute,
            "Enabled": True,
        }
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"The DynamoDB table {table_name}, as asynccopy schema read it.",
        "Resources": {
            "Table": {
                "Type": "AWS::DynamoDB::Table",
                # A table that will hold copied data is kept if the stack is deleted.
                "DeletionPolicy": "Retain",
                "UpdateReplacePolicy": "Retain",
                "Properties": properties,
            }
        },
        "Outputs": {
            "TableName": {"Value": {"Ref": "Table"}},
            "TableArn": {"Value": {"Fn::GetAtt": ["Table", "Arn"]}},
        },
    }
    return json.dumps(template, indent=2)
