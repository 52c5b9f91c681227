"""`asynccopy copy`: flags -> CopyConfig -> copier.copy -> rendered summary -> exit code."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from asynccopy.choices import DEFAULT_CONCURRENCY, Engine
from asynccopy.cli import options
from asynccopy.errors import SelectionError

if TYPE_CHECKING:
    from asynccopy.config import CopyConfig, Selection
    from asynccopy.copy.copier import Runtime
    from asynccopy.copy.summary import CopySummary


async def copy(config: CopyConfig, *, runtime: Runtime) -> CopySummary:
    """The copy's core, imported only when a copy runs: `--help` stays quick."""
    from asynccopy.copy.copier import copy as run_copy

    return await run_copy(config, runtime=runtime)


OUTPUT = options.OUTPUT
RESUME = "Checkpoint and resume"

QueueUrlOpt = Annotated[
    str, typer.Option("--queue-url", help="The destination account's SQS queue URL.")
]
DryRunOpt = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="Validate everything and print a plan; reads only --sample items, sends nothing.",
        rich_help_panel=OUTPUT,
    ),
]
SampleOpt = Annotated[
    int,
    typer.Option("--sample", min=0, help="Sample items a dry run reads.", rich_help_panel=OUTPUT),
]
FailedOutOpt = Annotated[
    Path | None,
    typer.Option(
        "--failed-out",
        metavar="FILE",
        help="Write the keys that failed there, one per line (usable as --keys).",
        rich_help_panel=OUTPUT,
    ),
]
CheckpointOpt = Annotated[
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
]
NoCheckpointOpt = Annotated[
    bool, typer.Option("--no-checkpoint", help="Keep no checkpoint.", rich_help_panel=RESUME)
]
ResumeOpt = Annotated[
    bool,
    typer.Option(
        "--resume",
        help="Continue from the checkpoint, skipping what earlier runs sent (a few items "
        "in flight may be sent again). Refused if the checkpoint is for another table, "
        "queue or selection (--index included), or other --attributes, --transform (or "
        "its file changed), --skip-expired or --keep-replication-attributes, or the key "
        "file changed. Without --resume a copy starts from the beginning and replaces the "
        "checkpoint.",
        rich_help_panel=RESUME,
    ),
]
WRITE_SIDE = "The write side"
WaitOpt = Annotated[
    bool,
    typer.Option(
        "--wait",
        help="After the last send, watch the queue until the consumer has drained it "
        "(no visible or in-flight message for 3 polls): messages waiting, in flight and "
        "in the dead-letter queue, items written (estimate), rate, ETA. Exit 1 if the "
        "dead-letter queue grew during the copy. Needs sqs:GetQueueAttributes on the "
        "queue and its dead-letter queue.",
        rich_help_panel=WRITE_SIDE,
    ),
]
WaitTimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--wait-timeout",
        metavar="SECONDS",
        help="With --wait: stop watching after this long (exit 1; the consumer goes on).",
        rich_help_panel=WRITE_SIDE,
    ),
]
MaxQueueDepthOpt = Annotated[
    int | None,
    typer.Option(
        "--max-queue-depth",
        metavar="N",
        help="Pause reading while the queue holds more than N messages (visible + in "
        "flight), polled about once a second; off by default.",
        rich_help_panel=WRITE_SIDE,
    ),
]


def copy_config(**fields: Any) -> CopyConfig:
    """CopyConfig, imported when a copy runs (its validation pulls in the cores: `--help` must
    not)."""
    from asynccopy.config import CopyConfig

    return CopyConfig(**fields)


def reading(
    rate: str | None, consistent_read: bool, concurrency: int, engine: Engine, /
) -> dict[str, Any]:
    """CopyConfig's reading fields from the flags: --rate (or a RateError), --consistent-read,
    --concurrency, --engine."""
    return {
        "rate": options.read_rate(rate),
        "consistent_read": consistent_read,
        "concurrency": concurrency,
        "engine": engine,
    }


def output(dry_run: bool, sample: int, failed_out: Path | None, /) -> dict[str, Any]:
    """CopyConfig's output fields from the flags: --dry-run, --sample, --failed-out."""
    return {"dry_run": dry_run, "sample_items": sample, "failed_out": failed_out}


def write_side(
    wait: bool, wait_timeout: float | None, max_queue_depth: int | None, *, dry_run: bool
) -> dict[str, Any]:
    """CopyConfig's write-side fields from the flags, or a SelectionError (exit 2)."""
    if dry_run and (wait or max_queue_depth is not None):
        raise SelectionError(
            "--wait and --max-queue-depth cannot be combined with --dry-run",
            hint="a dry run sends nothing: drop --dry-run to copy, or drop the write-side flags",
        )
    if wait_timeout is not None and (not wait or wait_timeout <= 0):
        raise SelectionError(
            f"--wait-timeout {wait_timeout:g} needs --wait and a positive number of seconds",
            hint="e.g. --wait --wait-timeout 600",
        )
    if max_queue_depth is not None and max_queue_depth < 1:
        raise SelectionError(
            f"--max-queue-depth {max_queue_depth} must be at least 1",
            hint="give the most messages the queue may hold, e.g. --max-queue-depth 4000",
        )
    return {"wait": wait, "wait_timeout_s": wait_timeout, "max_queue_depth": max_queue_depth}


def resuming(
    table: str,
    selection: Selection,
    given: Path | None,
    off: bool,
    /,
    *,
    dry_run: bool,
    resume: bool,
) -> dict[str, Any]:
    """CopyConfig's checkpoint fields from --checkpoint, --no-checkpoint and --resume."""
    kept = checkpoint_path(table, selection, given=given, off=off, dry_run=dry_run, resume=resume)
    return {"checkpoint_path": kept, "resume": resume}


def checkpoint_path(
    table: str,
    selection: Selection,
    *,
    given: Path | None,
    off: bool,
    dry_run: bool,
    resume: bool,
) -> Path | None:
    """The checkpoint file the copy keeps (None: none), from --checkpoint (`given`),
    --no-checkpoint (`off`), --dry-run and --resume, or a SelectionError for flags that
    contradict each other."""
    if off and (resume or given is not None):
        raise SelectionError(
            "--no-checkpoint cannot be combined with --resume or --checkpoint",
            hint="drop --no-checkpoint to keep (or resume) a checkpoint, or drop the others",
        )
    if dry_run and resume:
        raise SelectionError(
            "--resume cannot be combined with --dry-run", hint="a dry run keeps no checkpoint"
        )
    if off or dry_run:
        return None
    from asynccopy.copy.checkpoint import default_path

    return given or default_path(table, selection)


def run_copy(config: CopyConfig, *, progress: bool) -> CopySummary:
    """The copy, run on an event loop with progress on stderr; Ctrl-C drains the sends."""
    import anyio

    from asynccopy.copy.copier import Runtime

    console, mode = options.stderr_console(progress=progress)
    runtime = Runtime(console=console, progress=mode, stdin=sys.stdin.buffer, handle_signals=True)
    return anyio.run(partial(copy, config, runtime=runtime))


def print_summary(summary: CopySummary, *, as_json: bool) -> None:
    """The summary on stdout, then the exit with its code."""
    from asynccopy.copy.summary import render_text

    terminal = options.stdout_is_terminal()
    options.print_result(
        as_json=as_json,
        document=summary.to_json,
        text=partial(render_text, summary, terminal=terminal),
    )
    raise typer.Exit(int(summary.exit_code))


def copy_command(
    table: options.TableOpt,
    queue_url: QueueUrlOpt,
    keys: options.KeysOpt = None,
    query: options.QueryOpt = None,
    scan: options.ScanOpt = False,
    index: options.IndexOpt = None,
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
    dry_run: DryRunOpt = False,
    sample: SampleOpt = 3,
    as_json: options.JsonOpt = False,
    failed_out: FailedOutOpt = None,
    progress: options.ProgressOpt = True,
    checkpoint: CheckpointOpt = None,
    no_checkpoint: NoCheckpointOpt = False,
    engine: options.EngineOpt = Engine.FAST,
    resume: ResumeOpt = False,
    attributes: options.AttributesOpt = None,
    keep_replication: options.KeepReplicationOpt = False,
    skip_expired: options.SkipExpiredOpt = False,
    transform: options.TransformOpt = None,
    wait: WaitOpt = False,
    wait_timeout: WaitTimeoutOpt = None,
    max_queue_depth: MaxQueueDepthOpt = None,
) -> None:
    """Copy selected items from a DynamoDB table to an SQS queue in another account."""
    selection = options.selection(
        keys, query, scan, filter_expression, values, names, segments, segment, index
    )
    config = copy_config(
        table=table,
        selection=selection,
        queue_url=queue_url,
        source=options.aws_target(profile, region, endpoint_url, role_arn),
        queue=options.aws_target(queue_profile, queue_region, queue_endpoint_url, queue_role_arn),
        **reading(rate, consistent_read, concurrency, engine),
        **output(dry_run, sample, failed_out),
        **resuming(table, selection, checkpoint, no_checkpoint, dry_run=dry_run, resume=resume),
        shape=options.item_shape(attributes, keep_replication, skip_expired, transform),
        **write_side(wait, wait_timeout, max_queue_depth, dry_run=dry_run),
    )
    print_summary(run_copy(config, progress=progress), as_json=as_json)


def register(app: typer.Typer) -> None:
    app.command("copy")(copy_command)
