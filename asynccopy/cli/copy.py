"""`asynccopy copy`: flags -> CopyConfig -> copier.copy -> rendered summary -> exit code."""

from __future__ import annotations

import json
import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from asynccopy.aws import AwsTarget
from asynccopy.cli import options
from asynccopy.config import DEFAULT_CONCURRENCY, CopyConfig, Engine
from asynccopy.errors import SelectionError
from asynccopy.read.rate import parse_rate

if TYPE_CHECKING:
    from asynccopy.copy.copier import Runtime
    from asynccopy.copy.summary import CopySummary


async def copy(config: CopyConfig, *, runtime: Runtime) -> CopySummary:
    """The copy's core, imported only when a copy runs: `--help` stays quick."""
    from asynccopy.copy.copier import copy as run_copy

    return await run_copy(config, runtime=runtime)


OUTPUT = "Output"
RESUME = "Checkpoint and resume"


def copy_command(
    table: options.TableOpt,
    queue_url: Annotated[
        str, typer.Option("--queue-url", help="The destination account's SQS queue URL.")
    ],
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
    profile: options.ProfileOpt = None,
    region: options.RegionOpt = None,
    endpoint_url: options.EndpointUrlOpt = None,
    role_arn: options.RoleArnOpt = None,
    queue_profile: options.QueueProfileOpt = None,
    queue_region: options.QueueRegionOpt = None,
    queue_endpoint_url: options.QueueEndpointUrlOpt = None,
    queue_role_arn: options.QueueRoleArnOpt = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Validate everything and print a plan; reads only --sample items, sends nothing.",
            rich_help_panel=OUTPUT,
        ),
    ] = False,
    sample: Annotated[
        int,
        typer.Option(
            "--sample", min=0, help="Sample items a dry run reads.", rich_help_panel=OUTPUT
        ),
    ] = 3,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print one JSON summary on stdout.", rich_help_panel=OUTPUT),
    ] = False,
    failed_out: Annotated[
        Path | None,
        typer.Option(
            "--failed-out",
            metavar="FILE",
            help="Write the keys that failed there, one per line (usable as --keys).",
            rich_help_panel=OUTPUT,
        ),
    ] = None,
    progress: Annotated[
        bool,
        typer.Option(
            "--progress/--no-progress", help="Show progress on stderr.", rich_help_panel=OUTPUT
        ),
    ] = True,
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint",
            metavar="FILE",
            help="Record there what SQS has acknowledged, a few times a second (mode 0600, "
            "replaced atomically; no credentials). Default: "
            ".asynccopy/<table>-<hash of the selection>.checkpoint.json in the current "
            "directory. A copy that ends with exit 0 marks it complete (it is kept).",
            rich_help_panel=RESUME,
        ),
    ] = None,
    no_checkpoint: Annotated[
        bool,
        typer.Option("--no-checkpoint", help="Keep no checkpoint.", rich_help_panel=RESUME),
    ] = False,
    engine: options.EngineOpt = Engine.FAST,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Continue from the checkpoint, skipping what earlier runs sent (a few items "
            "in flight may be sent again). Refused if the checkpoint is for another table, "
            "queue or selection, or the key file changed. Without --resume a copy starts "
            "from the beginning and replaces the checkpoint.",
            rich_help_panel=RESUME,
        ),
    ] = False,
) -> None:
    """Copy selected items from a DynamoDB table to an SQS queue in another account."""
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
    if no_checkpoint and (resume or checkpoint is not None):
        raise SelectionError(
            "--no-checkpoint cannot be combined with --resume or --checkpoint",
            hint="drop --no-checkpoint to keep (or resume) a checkpoint, or drop the others",
        )
    if dry_run and resume:
        raise SelectionError(
            "--resume cannot be combined with --dry-run", hint="a dry run keeps no checkpoint"
        )
    import anyio
    from rich.console import Console

    from asynccopy.copy.checkpoint import default_path as default_checkpoint_path
    from asynccopy.copy.copier import Runtime
    from asynccopy.copy.progress import ProgressMode
    from asynccopy.copy.summary import render_text

    checkpoint_path = None
    if not (no_checkpoint or dry_run):
        checkpoint_path = checkpoint or default_checkpoint_path(table, selection)
    config = CopyConfig(
        table=table,
        selection=selection,
        queue_url=queue_url,
        source=AwsTarget(
            profile=profile, region=region, endpoint_url=endpoint_url, role_arn=role_arn
        ),
        queue=AwsTarget(
            profile=queue_profile,
            region=queue_region,
            endpoint_url=queue_endpoint_url,
            role_arn=queue_role_arn,
        ),
        rate=parse_rate(rate),
        consistent_read=consistent_read,
        concurrency=concurrency,
        dry_run=dry_run,
        sample_items=sample,
        failed_out=failed_out,
        checkpoint_path=checkpoint_path,
        resume=resume,
        engine=engine,
    )
    console = Console(stderr=True)
    runtime = Runtime(
        console=console,
        progress=ProgressMode.choose(enabled=progress, console=console),
        stdin=sys.stdin.buffer,
        handle_signals=True,
    )
    summary = anyio.run(partial(copy, config, runtime=runtime))
    if as_json:
        print(json.dumps(summary.to_json()))
    else:
        print(render_text(summary))
    raise typer.Exit(int(summary.exit_code))


def register(app: typer.Typer) -> None:
    app.command("copy")(copy_command)
