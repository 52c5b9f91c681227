"""What asynccopy needs to know about the source table, from one DescribeTable call."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from asynccopy.errors import InputError, TableNotFoundError
from asynccopy.read.rate import RateSpec, ResolvedRate, resolve_rate
from asynccopy.retry import Backoff, call_with_retries, error_code

# Used until a table reports its size: one read unit's worth.
FALLBACK_ITEM_BYTES: Final = 1_024


@dataclass(frozen=True, kw_only=True, slots=True)
class KeyAttribute:
    name: str
    type: str  # "S", "N" or "B"


@dataclass(frozen=True, kw_only=True, slots=True)
class KeySchema:
    partition: KeyAttribute
    sort: KeyAttribute | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(attribute.name for attribute in self.attributes)

    @property
    def attributes(self) -> tuple[KeyAttribute, ...]:
        return (self.partition,) if self.sort is None else (self.partition, self.sort)


@dataclass(frozen=True, kw_only=True, slots=True)
class IndexInfo:
    name: str
    is_global: bool  # a GSI; else an LSI
    projection_type: str  # "ALL", "KEYS_ONLY" or "INCLUDE"

    @property
    def projects_all(self) -> bool:
        return self.projection_type == "ALL"

    def describe(self) -> str:
        kind = "global" if self.is_global else "local"
        return f"{self.name} ({kind}, projection {self.projection_type})"


@dataclass(frozen=True, kw_only=True, slots=True)
class TableInfo:
    name: str
    key_schema: KeySchema
    billing_mode: str  # "PROVISIONED" or "PAY_PER_REQUEST"
    provisioned_rcu: int  # 0 for on-demand
    item_count: int  # DynamoDB's estimate, refreshed about every six hours
    size_bytes: int
    arn: str = ""  # arn:aws:dynamodb:REGION:ACCOUNT:table/NAME; "" where the service gives none
    # WarmThroughput.ReadUnitsPerSecond: the reads the table serves at once, as warmed by its
    # past peaks (or a pre-warm). None where DescribeTable gives none, or 0.
    warm_read_units_per_s: int | None = None
    # OnDemandThroughput.MaxReadRequestUnits: the owner's cap on an on-demand table's reads;
    # reads above it throttle with TableReadMaxOnDemandThroughputExceeded. None: no cap (-1).
    max_on_demand_read_units: int | None = None
    indexes: tuple[IndexInfo, ...] = ()

    def index(self, name: str, *, consistent_read: bool = False) -> IndexInfo:
        """The index `name`, or an InputError naming the table's indexes; also refused: a
        consistent read through a global index, which DynamoDB does not serve (Query and
        Scan: "strongly consistent reads are not supported on global secondary indexes")."""
        for index in self.indexes:
            if index.name == name:
                if consistent_read and index.is_global:
                    raise InputError(
                        f"--consistent-read cannot read through global secondary index {name!r}",
                        hint="a GSI serves eventually consistent reads only: drop "
                        "--consistent-read, or select through a local index or the table",
                    )
                return index
        known = ", ".join(index.describe() for index in self.indexes) or "none"
        raise InputError(
            f"table {self.name!r} has no index {name!r} (its indexes: {known})",
            hint="pass one of its indexes to --index, or drop --index to read the table",
        )

    @property
    def on_demand(self) -> bool:
        return self.billing_mode == "PAY_PER_REQUEST" or self.provisioned_rcu <= 0

    @property
    def on_demand_read_ceiling(self) -> int | None:
        """What an existing on-demand table serves at once: the lower of its warm throughput
        and its maximum, where DescribeTable reports them; None otherwise (and for a
        provisioned table, whose ceiling is its provisioned RCU)."""
        if not self.on_demand:
            return None
        known = [
            units
            for units in (self.warm_read_units_per_s, self.max_on_demand_read_units)
            if units is not None
        ]
        return min(known) if known else None

    def ceiling_description(self) -> str:
        parts = []
        if self.warm_read_units_per_s is not None:
            parts.append(f"warm throughput {self.warm_read_units_per_s} reads/s")
        if self.max_on_demand_read_units is not None:
            parts.append(f"MaxReadRequestUnits {self.max_on_demand_read_units}")
        return " and ".join(parts)

    @property
    def average_item_bytes(self) -> int:
        """TableSizeBytes / ItemCount, or a fallback for an empty or new table."""
        if self.item_count <= 0 or self.size_bytes <= 0:
            return FALLBACK_ITEM_BYTES
        return max(1, -(-self.size_bytes // self.item_count))


def resolve_table_rate(spec: RateSpec, table: TableInfo, *, side: str = "") -> ResolvedRate:
    """`spec` in RCU/s for `table`: its provisioned RCU, or its on-demand read ceiling; `side`
    ("source", "destination") names the table in errors."""
    return resolve_rate(
        spec,
        provisioned_rcu=table.provisioned_rcu,
        table=f"the {side + ' ' if side else ''}table {table.name!r}",
        on_demand_ceiling_rcu=table.on_demand_read_ceiling,
        ceiling_description=table.ceiling_description(),
    )


def parse_table_description(table: dict[str, Any]) -> TableInfo:
    types = {d["AttributeName"]: d["AttributeType"] for d in table["AttributeDefinitions"]}
    partition: KeyAttribute | None = None
    sort: KeyAttribute | None = None
    for element in table["KeySchema"]:
        attribute = KeyAttribute(
            name=element["AttributeName"], type=types[element["AttributeName"]]
        )
        if element["KeyType"] == "HASH":
            partition = attribute
        else:
            sort = attribute
    assert partition is not None, "DynamoDB always reports a HASH key"
    indexes = tuple(
        IndexInfo(
            name=described["IndexName"],
            is_global=is_global,
            projection_type=described.get("Projection", {}).get("ProjectionType", "ALL"),
        )
        for is_global, kind in ((True, "GlobalSecondaryIndexes"), (False, "LocalSecondaryIndexes"))
        for described in table.get(kind, [])
    )
    billing = table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
    rcu = int(table.get("ProvisionedThroughput", {}).get("ReadCapacityUnits", 0))
    warm = int(table.get("WarmThroughput", {}).get("ReadUnitsPerSecond", 0) or 0)
    maximum = int(table.get("OnDemandThroughput", {}).get("MaxReadRequestUnits", -1) or -1)
    return TableInfo(
        name=table["TableName"],
        key_schema=KeySchema(partition=partition, sort=sort),
        billing_mode=billing,
        provisioned_rcu=0 if billing == "PAY_PER_REQUEST" else rcu,
        item_count=int(table.get("ItemCount", 0)),
        size_bytes=int(table.get("TableSizeBytes", 0)),
        arn=str(table.get("TableArn", "")),
        warm_read_units_per_s=warm if warm > 0 else None,
        max_on_demand_read_units=maximum if maximum > 0 else None,
        indexes=indexes,
    )


def client_region(client: Any, fallback: str | None = None) -> str | None:
    """The region a client calls: its session's, wherever it came from (flag, profile,
    AWS_REGION, asynccopy's default); `fallback` for a client that does not say."""
    meta = getattr(client, "meta", None)
    region = getattr(meta, "region_name", None)
    return region if isinstance(region, str) and region else fallback


async def describe_table(
    client: Any,
    *,
    table: str,
    region: str | None = None,
    backoff: Backoff | None = None,
    not_found_hint: str | None = None,
) -> TableInfo:
    """The table's key schema, capacity and size, or an InputError naming what to fix.

    `region` is used in messages only where the client does not say which region it calls.
    """
    try:
        reply = await call_with_retries(
            partial(client.describe_table, TableName=table), backoff=backoff or Backoff()
        )
    except ClientError as exc:
        code = error_code(exc)
        if code == "ResourceNotFoundException":
            where = client_region(client, region)
            if not_found_hint is None:
                raise TableNotFoundError(table=table, region=where) from exc
            raise TableNotFoundError(table=table, region=where, hint=not_found_hint) from exc
        raise InputError(
            f"cannot describe table {table!r}: {code}",
            hint="the source identity needs dynamodb:DescribeTable, BatchGetItem, Query and Scan",
        ) from exc
    except BotoCoreError as exc:  # no answer at all, even after every retry
        used = client_region(client, region)
        now = f" (now {used})" if used else ""
        raise InputError(
            f"cannot reach DynamoDB to describe table {table!r}: {error_code(exc)}",
            hint=f"check --endpoint-url, --region{now} and the network",
        ) from exc
    return parse_table_description(reply["Table"])
