"""The destination table's key schema, read with DescribeTable, and the check every item passes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from consumer.wire import Item

if TYPE_CHECKING:
    from consumer.fast_dynamodb import DynamoDBWrites


@dataclass(frozen=True, kw_only=True, slots=True)
class KeySchema:
    table_name: str
    partition_key: str
    sort_key: str | None
    key_types: Mapping[str, str]  # key attribute name -> "S" | "N" | "B"

    @property
    def key_names(self) -> tuple[str, ...]:
        return (
            (self.partition_key,)
            if self.sort_key is None
            else (
                self.partition_key,
                self.sort_key,
            )
        )

    def mismatch(self, item: Item) -> str | None:
        """Why `item` cannot be written to this table by its key, or None if it can."""
        for name in self.key_names:
            expected = self.key_types[name]
            value = item.get(name)
            if value is None:
                return f"lacks key attribute {name!r} of table {self.table_name!r}"
            if set(value) != {expected}:
                return (
                    f"key attribute {name!r} has type {'/'.join(value)}, but table "
                    f"{self.table_name!r} declares {expected}"
                )
            # DynamoDB rejects empty string and binary key values.
            if expected in ("S", "B") and not value[expected]:
                return f"key attribute {name!r} is empty"
        return None


def describe_key_schema(client: DynamoDBWrites, table_name: str) -> KeySchema:
    table = client.describe_table(TableName=table_name)["Table"]
    types = {d["AttributeName"]: d["AttributeType"] for d in table["AttributeDefinitions"]}
    roles = {k["KeyType"]: k["AttributeName"] for k in table["KeySchema"]}
    names = [roles["HASH"], *([roles["RANGE"]] if "RANGE" in roles else [])]
    return KeySchema(
        table_name=table_name,
        partition_key=roles["HASH"],
        sort_key=roles.get("RANGE"),
        key_types={name: types[name] for name in names},
    )
