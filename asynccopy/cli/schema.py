"""`asynccopy schema`: flags -> SchemaConfig -> schema.run.run_schema -> stdout -> exit code."""

from __future__ import annotations

import sys
from functools import partial
from typing import Annotated

import typer

from asynccopy.cli import options
from asynccopy.schema.definition import OutputFormat

DEST = "Destination (with --create)"
OUTPUT = "Output"


FormatOpt = Annotated[
    OutputFormat,
    typer.Option(
        "--format",
        case_sensitive=False,
        help="cli-input-json: the input of `aws dynamodb create-table --cli-input-json`; "
        "cloudformation: a template with the table as an AWS::DynamoDB::Table resource.",
        rich_help_panel=OUTPUT,
    ),
]

WarmThroughputOpt = Annotated[
    str | None,
    typer.Option(
        "--warm-throughput",
        metavar="READS,WRITES",
        help="Pre-warm the new table to these read and write units per second "
        "(DynamoDB's WarmThroughput; a new on-demand table starts at 12,000 and 4,000).",
        rich_help_panel=OUTPUT,
    ),
]

CreateOpt = Annotated[
    bool,
    typer.Option(
        "--create",
        help="Create the table in the destination, wait until it and its indexes are "
        "ACTIVE, and enable TTL. An existing table with the same key is left as it is; "
        "one with another key is refused (exit 2).",
        rich_help_panel=DEST,
    ),
]

DryRunOpt = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="With --create: print what would be created, and create nothing.",
        rich_help_panel=DEST,
    ),
]

DestTableOpt = Annotated[
    str | None,
    typer.Option(
        "--dest-table",
        help="The new table's name (default: the source table's).",
        rich_help_panel=DEST,
    ),
]


def schema_command(
    table: options.TableOpt,
    output_format: FormatOpt = OutputFormat.CLI_INPUT_JSON,
    warm_throughput: WarmThroughputOpt = None,
    create: CreateOpt = False,
    dry_run: DryRunOpt = False,
    dest_table: DestTableOpt = None,
    profile: options.ProfileOpt = None,
    region: options.RegionOpt = None,
    endpoint_url: options.EndpointUrlOpt = None,
    role_arn: options.RoleArnOpt = None,
    dest_profile: options.DestProfileOpt = None,
    dest_region: options.DestRegionOpt = None,
    dest_endpoint_url: options.DestEndpointUrlOpt = None,
    dest_role_arn: options.DestRoleArnOpt = None,
) -> None:
    """Print the source table's definition for CreateTable or CloudFormation, or create it in
    the destination account (--create)."""
    import anyio

    from asynccopy.aws import AwsTarget
    from asynccopy.schema.definition import parse_warm_throughput
    from asynccopy.schema.run import SchemaConfig, run_schema

    dest = options.aws_target(dest_profile, dest_region, dest_endpoint_url, dest_role_arn)
    config = SchemaConfig(
        table=table,
        dest_table=dest_table,
        source=options.aws_target(profile, region, endpoint_url, role_arn),
        dest=None if dest == AwsTarget() else dest,
        output_format=output_format,
        create=create,
        dry_run=dry_run,
        warm=None if warm_throughput is None else parse_warm_throughput(warm_throughput),
    )
    printed = anyio.run(partial(run_schema, config, note=lambda line: print(line, file=sys.stderr)))
    print(printed)


def register(app: typer.Typer) -> None:
    app.command("schema")(schema_command)
