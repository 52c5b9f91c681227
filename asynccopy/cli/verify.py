"""`asynccopy verify`: flags -> VerifyConfig -> verify.verify -> verdict -> exit code."""

from __future__ import annotations

import json
from functools import partial
from typing import Annotated

import typer

from asynccopy.aws import AwsTarget
from asynccopy.cli import options
from asynccopy.config import DEFAULT_CONCURRENCY, Engine
from asynccopy.read.rate import parse_rate

DEST = "Destination table credentials (default: the source side's)"
OUTPUT = "Output"


def verify_command(
    table: options.TableOpt,
    dest_table: Annotated[
        str | None,
        typer.Option(
            "--dest-table",
            help="The destination table's name (default: the source table's).",
            rich_help_panel=DEST,
        ),
    ] = None,
    keys: options.KeysOpt = None,
    query: options.QueryOpt = None,
    scan: options.ScanOpt = False,
    filter_expression: options.FilterOpt = None,
    values: options.ValuesOpt = None,
    names: options.NamesOpt = None,
    segments: options.SegmentsOpt = None,
    segment: options.SegmentOpt = None,
    rate: options.RateOpt = None,
    consistent_read: options.ConsistentReadOpt = False,
    concurrency: options.ConcurrencyOpt = DEFAULT_CONCURRENCY,
    engine: options.EngineOpt = Engine.FAST,
    profile: options.ProfileOpt = None,
    region: options.RegionOpt = None,
    endpoint_url: options.EndpointUrlOpt = None,
    role_arn: options.RoleArnOpt = None,
    dest_profile: Annotated[
        str | None, typer.Option("--dest-profile", help="AWS profile.", rich_help_panel=DEST)
    ] = None,
    dest_region: Annotated[
        str | None, typer.Option("--dest-region", help="AWS region.", rich_help_panel=DEST)
    ] = None,
    dest_endpoint_url: Annotated[
        str | None,
        typer.Option("--dest-endpoint-url", help="Endpoint URL.", rich_help_panel=DEST),
    ] = None,
    dest_role_arn: Annotated[
        str | None,
        typer.Option("--dest-role-arn", help="Role to assume.", rich_help_panel=DEST),
    ] = None,
    shown: Annotated[
        int,
        typer.Option(
            "--show", min=0, help="Keys listed per kind of difference.", rich_help_panel=OUTPUT
        ),
    ] = 5,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print one JSON summary on stdout.", rich_help_panel=OUTPUT),
    ] = False,
    progress: Annotated[
        bool,
        typer.Option(
            "--progress/--no-progress", help="Show progress on stderr.", rich_help_panel=OUTPUT
        ),
    ] = True,
) -> None:
    """Compare the selected items in the source and destination tables; exit 0 if identical."""
    selection = options.selection_from_flags(
        keys=keys,
        query=query,
        scan=scan,
        filter_expression=filter_expression,
        values=values,
        names=names,
        segments=segments,
        segment=segment,
    )
    import anyio
    from rich.console import Console

    from asynccopy.copy.progress import ProgressMode
    from asynccopy.verify.verify import VerifyConfig, verify

    config = VerifyConfig(
        table=table,
        dest_table=dest_table,
        selection=selection,
        source=AwsTarget(
            profile=profile, region=region, endpoint_url=endpoint_url, role_arn=role_arn
        ),
        dest=AwsTarget(
            profile=dest_profile,
            region=dest_region,
            endpoint_url=dest_endpoint_url,
            role_arn=dest_role_arn,
        ),
        rate=parse_rate(rate),
        consistent_read=consistent_read,
        concurrency=concurrency,
        keys_shown=shown,
        engine=engine,
    )
    console = Console(stderr=True)
    mode = ProgressMode.choose(enabled=progress, console=console)
    result = anyio.run(partial(verify, config, console=console, progress=mode))
    if as_json:
        print(json.dumps(result.to_json()))
    else:
        print(result.render_text())
    raise typer.Exit(int(result.exit_code))


def register(app: typer.Typer) -> None:
    app.command("verify")(verify_command)
