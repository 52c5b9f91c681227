"""`asynccopy verify`: flags -> VerifyConfig -> verify.verify -> verdict -> exit code."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Annotated

import typer

from asynccopy.choices import DEFAULT_CONCURRENCY, Engine
from asynccopy.cli import options

if TYPE_CHECKING:
    from asynccopy.verify.config import VerifyConfig
    from asynccopy.verify.result import VerifyResult

DEST = options.DEST
OUTPUT = options.OUTPUT

DestTableOpt = Annotated[
    str | None,
    typer.Option(
        "--dest-table",
        help="The destination table's name (default: the source table's).",
        rich_help_panel=DEST,
    ),
]
ShowOpt = Annotated[
    int,
    typer.Option(
        "--show", min=0, help="Keys listed per kind of difference.", rich_help_panel=OUTPUT
    ),
]


def run_verify(config: VerifyConfig, *, progress: bool) -> VerifyResult:
    """The comparison, run on an event loop with progress on stderr."""
    import anyio

    from asynccopy.verify.verify import verify

    console, mode = options.stderr_console(progress=progress)
    return anyio.run(partial(verify, config, console=console, progress=mode))


def verify_command(
    table: options.TableOpt,
    dest_table: DestTableOpt = None,
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
    dest_profile: options.DestProfileOpt = None,
    dest_region: options.DestRegionOpt = None,
    dest_endpoint_url: options.DestEndpointUrlOpt = None,
    dest_role_arn: options.DestRoleArnOpt = None,
    shown: ShowOpt = 5,
    as_json: options.JsonOpt = False,
    progress: options.ProgressOpt = True,
    attributes: options.AttributesOpt = None,
    transform: options.TransformOpt = None,
) -> None:
    """Compare the selected items in the source and destination tables; exit 0 if identical."""
    selection = options.selection(
        keys, query, scan, filter_expression, values, names, segments, segment
    )
    from asynccopy.verify.config import VerifyConfig

    config = VerifyConfig(
        table=table,
        dest_table=dest_table,
        selection=selection,
        source=options.aws_target(profile, region, endpoint_url, role_arn),
        dest=options.aws_target(dest_profile, dest_region, dest_endpoint_url, dest_role_arn),
        rate=options.read_rate(rate),
        consistent_read=consistent_read,
        concurrency=concurrency,
        keys_shown=shown,
        engine=engine,
        projection=options.projection(attributes),
        transform=options.load_transform(transform),
    )
    result = run_verify(config, progress=progress)
    options.print_result(as_json=as_json, document=result.to_json, text=result.render_text)
    raise typer.Exit(int(result.exit_code))


def register(app: typer.Typer) -> None:
    app.command("verify")(verify_command)
