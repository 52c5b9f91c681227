"""`asynccopy schema` from a SchemaConfig: print the definition, or create the table.

    SchemaConfig -> read_definition (source) -> the definition as text        (no --create)
                                             -> the plan as text              (--create --dry-run)
                                             -> CreateTable + wait + TTL       (--create)

It returns what goes to stdout; notes for the person go to `note` (stderr).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio

from asynccopy.aws import AwsTarget, client_config, endpoint_for, open_sessions
from asynccopy.choices import Engine
from asynccopy.errors import InputError
from asynccopy.schema.create import create_table, existing_table, read_definition
from asynccopy.schema.definition import (
    NEW_ON_DEMAND_READ_UNITS_PER_S,
    NEW_ON_DEMAND_WRITE_UNITS_PER_S,
    OutputFormat,
    TableDefinition,
    WarmThroughput,
    cli_input_json,
    cloudformation_template,
)

# docs/operations.md, sizing: with 1 KB items one consumer invocation writes about 500 WCU/s.
WCU_PER_INVOCATION: int = 500


@dataclass(frozen=True, kw_only=True, slots=True)
class SchemaConfig:
    table: str
    source: AwsTarget
    dest_table: str | None = None  # None: the source table's name
    dest: AwsTarget | None = None  # None: the source side's
    output_format: OutputFormat = OutputFormat.CLI_INPUT_JSON
    create: bool = False
    dry_run: bool = False
    warm: WarmThroughput | None = None

    @property
    def dest_name(self) -> str:
        return self.dest_table or self.table

    @property
    def dest_target(self) -> AwsTarget:
        return self.source if self.dest is None else self.dest.or_else(self.source)


def capacity_note(definition: TableDefinition, warm: WarmThroughput | None) -> str:
    """What the new table can absorb at once, and what a consumer can write."""
    if warm is not None:
        return (
            f"The new table is pre-warmed to {warm.read_units_per_s:,} reads and "
            f"{warm.write_units_per_s:,} writes per second (WarmThroughput; pre-warming is "
            "billed once, see DynamoDB pricing)."
        )
    if not definition.on_demand:
        wcu = definition.create_input.get("ProvisionedThroughput", {}).get("WriteCapacityUnits")
        return (
            f"The new table is provisioned with {wcu} WCU: size the consumer's "
            "MaximumConcurrency to it (docs/operations.md)."
        )
    above = NEW_ON_DEMAND_WRITE_UNITS_PER_S // WCU_PER_INVOCATION + 1
    return (
        f"A new on-demand table starts with a warm throughput of "
        f"{NEW_ON_DEMAND_WRITE_UNITS_PER_S:,} write units per second "
        f"({NEW_ON_DEMAND_READ_UNITS_PER_S:,} reads); DynamoDB raises it as traffic grows, but "
        f"writes faster than that can be throttled until it has. At about "
        f"{WCU_PER_INVOCATION} WCU/s per invocation (1 KB items, docs/operations.md), a consumer "
        f"at MaximumConcurrency {above} and up can pass it: pre-warm with "
        "--warm-throughput READS,WRITES, or keep MaximumConcurrency lower."
    )


def ttl_note(definition: TableDefinition, table_name: str) -> str:
    return (
        f"The source table expires items on {definition.ttl_attribute!r}; CreateTable does not "
        "take TTL, so once the table is ACTIVE run: aws dynamodb update-time-to-live "
        f"--table-name {table_name} --time-to-live-specification "
        f"Enabled=true,AttributeName={definition.ttl_attribute}"
    )


def _global_indexes(names: list[str]) -> str:
    return ("global index " if len(names) == 1 else "global indexes ") + ", ".join(names)


def _exists(name: str, key: str, lacks: list[str]) -> str:
    """A table of that name is there with the same key: left as it is, saying what of the
    source's it lacks (items copied into it still fit; its queries and TTL may not)."""
    same = f"table {name!r} already exists in the destination with the same key ({key})"
    if not lacks:
        return f"{same}: nothing to do"
    return (
        f"{same}: left as it is, but it lacks what the source has: {'; '.join(lacks)}. Items copied"
        " into it fit its key; add what it lacks with UpdateTable / UpdateTimeToLive, or create"
        " a new table with --dest-table NAME"
    )


def _render(config: SchemaConfig, definition: TableDefinition) -> str:
    if config.output_format is OutputFormat.CLOUDFORMATION:
        return cloudformation_template(definition, table_name=config.dest_name, warm=config.warm)
    return cli_input_json(definition.request(table_name=config.dest_name, warm=config.warm))


def check_flags(config: SchemaConfig) -> None:
    """--dry-run and the destination's flags only mean something with --create."""
    if config.create:
        return
    if config.dry_run:
        raise InputError(
            "--dry-run goes with --create", hint="add --create, or drop --dry-run to print"
        )
    if config.dest is not None and config.dest != AwsTarget():
        raise InputError(
            "the --dest-* options go with --create",
            hint="add --create to create the table there, or drop them to print the definition",
        )


async def run_schema(
    config: SchemaConfig,
    *,
    note: Callable[[str], None],
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """What `asynccopy schema` prints on stdout; InputError (exit 2) for bad input."""
    check_flags(config)
    dest_target = config.dest_target
    # A few calls: botocore's own session (the fast engine's), no aioboto3 to import.
    source_session, dest_session = await open_sessions(
        config.source, dest_target, engine=Engine.FAST
    )
    pool = client_config(concurrency=1, engine=Engine.FAST)
    async with contextlib.AsyncExitStack() as stack:
        source: Any = await stack.enter_async_context(
            source_session.client(
                "dynamodb", endpoint_url=endpoint_for(config.source, "dynamodb"), config=pool
            )
        )
        definition = await read_definition(source, table=config.table)
        if not config.create:
            if (
                definition.ttl_attribute is not None
                and config.output_format is OutputFormat.CLI_INPUT_JSON
            ):
                note(ttl_note(definition, config.dest_name))
            return _render(config, definition)
        dest: Any = await stack.enter_async_context(
            dest_session.client(
                "dynamodb", endpoint_url=endpoint_for(dest_target, "dynamodb"), config=pool
            )
        )
        wanted = definition.key_signature()
        lacks = await existing_table(dest, table=config.dest_name, definition=definition)
        if lacks is not None:
            return _exists(config.dest_name, wanted, lacks)
        request = definition.request(table_name=config.dest_name, warm=config.warm)
        indexes = [i["IndexName"] for i in request.get("GlobalSecondaryIndexes", [])]
        ttl = definition.ttl_attribute
        if config.dry_run:
            steps = [f"create table {config.dest_name!r} in the destination ({wanted})"]
            if indexes:
                steps.append(f"wait until it and its {_global_indexes(indexes)} are ACTIVE")
            else:
                steps.append("wait until it is ACTIVE")
            if ttl is not None:
                steps.append(f"enable TTL on {ttl!r}")
            return "\n".join(
                [
                    "dry run: nothing was created. It would " + ", then ".join(steps) + ".",
                    capacity_note(definition, config.warm),
                    "CreateTable input:",
                    cli_input_json(request),
                ]
            )
        await create_table(dest, request, ttl_attribute=ttl, sleep=sleep, clock=clock)
        done = f"created table {config.dest_name!r} in the destination ({wanted}): ACTIVE"
        if indexes:
            done += f", with {_global_indexes(indexes)} ACTIVE"
        if ttl is not None:
            done += f"; TTL enabled on {ttl!r}"
        note(capacity_note(definition, config.warm))
        return done
    raise AssertionError("unreachable")  # pragma: no cover
