"""What verify checks before it reads an item: both tables described, not one table compared
with itself, and the same key schema on both sides.

In: the VerifyConfig and both sides' clients. Out: both tables' TableInfo, or an InputError
(exit 2) saying which --dest-* option to give.
"""

from __future__ import annotations

from typing import Any

from asynccopy.aws import AwsTarget, endpoint_for
from asynccopy.errors import InputError
from asynccopy.read.tables import TableInfo, describe_table
from asynccopy.verify.config import VerifyConfig


async def describe_both(
    config: VerifyConfig, *, source_ddb: Any, dest_ddb: Any, source_session: Any, dest_session: Any
) -> tuple[TableInfo, TableInfo]:
    """DescribeTable on both sides, then the checks that they are two tables with one key schema."""
    dest_target = config.dest_target
    source_table = await describe_table(source_ddb, table=config.table, region=config.source.region)
    dest_table = await describe_table(
        dest_ddb,
        table=config.dest_table or config.table,
        region=dest_target.region,
        not_found_hint="check --dest-table, --dest-region and --dest-profile"
        " (the destination side)",
    )
    _check_distinct_tables(
        config,
        source_arn=await _table_arn(
            source_table, client=source_ddb, session=source_session, target=config.source
        ),
        dest_arn=await _table_arn(
            dest_table, client=dest_ddb, session=dest_session, target=dest_target
        ),
        same_endpoint=source_ddb.meta.endpoint_url == dest_ddb.meta.endpoint_url,
    )
    _check_same_key_schema(source_table, dest_table)
    return source_table, dest_table


async def _table_arn(table: TableInfo, *, client: Any, session: Any, target: AwsTarget) -> str:
    """The table's ARN from DescribeTable, or built from the caller's account where the
    service reports none; "" when neither can be known."""
    if table.arn:
        return table.arn
    try:
        async with session.client("sts", endpoint_url=endpoint_for(target, "sts")) as sts:
            account = (await sts.get_caller_identity())["Account"]
    except Exception:  # no answer: the check below cannot tell, and verify goes on
        return ""
    return f"arn:aws:dynamodb:{client.meta.region_name}:{account}:table/{table.name}"


def _check_distinct_tables(
    config: VerifyConfig, *, source_arn: str, dest_arn: str, same_endpoint: bool
) -> None:
    """Refuses to compare a table with itself, which would find every item identical.

    One ARN (account, region, name) at one endpoint is one table. Two endpoints that report
    the same ARN are taken as two services, such as two local emulators.
    """
    if not source_arn or source_arn != dest_arn or not same_endpoint:
        return
    dest = config.dest
    given = [
        flag
        for flag, value in (
            ("--dest-table", config.dest_table),
            ("--dest-profile", dest.profile),
            ("--dest-region", dest.region),
            ("--dest-endpoint-url", dest.endpoint_url),
            ("--dest-role-arn", dest.role_arn),
        )
        if value is not None
    ]
    missing = []
    if dest.profile is None and dest.role_arn is None:
        missing.append("--dest-profile or --dest-role-arn for the destination's account")
    if dest.region is None:
        missing.append("--dest-region")
    if config.dest_table is None:
        missing.append("--dest-table")
    if given:
        why = f"{', '.join(given)} still name{'s' if len(given) == 1 else ''} the source table"
    else:
        why = "no --dest-* option was given, so the destination took the source's credentials,"
        why += " region and table name"
    hint = (
        "name the destination with " + ", or ".join(missing)
        if missing
        else "check the --dest-* options: they lead to the source's account"
    )
    raise InputError(f"verify would compare {source_arn} with itself: {why}", hint=hint)


def _check_same_key_schema(source: TableInfo, dest: TableInfo) -> None:
    if source.key_schema != dest.key_schema:
        raise InputError(
            f"the destination table {dest.name!r} has key schema {dest.key_schema.attributes},"
            f" the source table {source.name!r} has {source.key_schema.attributes}",
            hint="compare tables with the same partition and sort keys",
        )
