"""`asynccopy status` (the write side of a copy, from its queue) and `asynccopy dlq` (the
dead-letter queue listed, its keys written out, its messages redriven)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from asynccopy.errors import ExitCode, InputError

if TYPE_CHECKING:
    from asynccopy.aws import AwsTarget
    from asynccopy.watch.deadletters import DeadLetterListing
    from asynccopy.watch.watcher import WatchResult

CREDENTIALS = "Credentials (AWS CLI style; the region defaults to the queue URL's)"

ProfileOpt = Annotated[
    str | None, typer.Option("--profile", help="AWS profile.", rich_help_panel=CREDENTIALS)
]
RegionOpt = Annotated[
    str | None, typer.Option("--region", help="AWS Region.", rich_help_panel=CREDENTIALS)
]
EndpointUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--endpoint-url",
        help="Override the AWS endpoint URL (else AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL).",
        rich_help_panel=CREDENTIALS,
    ),
]
RoleArnOpt = Annotated[
    str | None,
    typer.Option("--role-arn", help="A role to assume first.", rich_help_panel=CREDENTIALS),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]


def _target(
    profile: str | None, region: str | None, endpoint_url: str | None, role_arn: str | None
) -> AwsTarget:
    from asynccopy.aws import AwsTarget

    return AwsTarget(profile=profile, region=region, endpoint_url=endpoint_url, role_arn=role_arn)


StatusQueueUrlOpt = Annotated[str, typer.Option("--queue-url", help="The copy's queue.")]
WatchOpt = Annotated[bool, typer.Option("--watch", help="Keep polling until the queue is drained.")]
TimeoutOpt = Annotated[
    float | None,
    typer.Option("--timeout", metavar="SECONDS", min=1, help="With --watch: give up after."),
]
PollOpt = Annotated[
    float,
    typer.Option("--poll-seconds", min=0.1, max=60, help="With --watch: seconds between polls."),
]
StatusProgressOpt = Annotated[
    bool, typer.Option("--progress/--no-progress", help="Progress on stderr.")
]


def status(
    queue_url: StatusQueueUrlOpt,
    watch: WatchOpt = False,
    timeout_s: TimeoutOpt = None,
    poll_s: PollOpt = 2.0,
    progress: StatusProgressOpt = True,
    as_json: JsonOpt = False,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    endpoint_url: EndpointUrlOpt = None,
    role_arn: RoleArnOpt = None,
) -> None:
    """The write side of a copy running or finished elsewhere: its queue and dead-letter queue.

    Messages waiting, in flight, and in the dead-letter queue (found from the queue's
    RedrivePolicy). With --watch, polls until the queue has held no visible and no in-flight
    message for 3 polls in a row.

    Exit 0 when the dead-letter queue is empty (and, with --watch, the queue drained), 1 when
    the dead-letter queue holds messages or --timeout passed, 2 on bad input, 130 on Ctrl-C.
    """
    from rich.console import Console

    from asynccopy.copy.progress import ProgressMode
    from asynccopy.watch.clients import open_queue
    from asynccopy.watch.display import WatchDisplay
    from asynccopy.watch.watcher import SystemClock
    from asynccopy.watch.watcher import watch as watch_queue

    opened = open_queue(queue_url, _target(profile, region, endpoint_url, role_arn))
    clock = SystemClock()
    console = Console(stderr=True)
    mode = ProgressMode.choose(enabled=progress and watch, console=console)
    try:
        with WatchDisplay(mode=mode, console=console, clock=clock) as display:
            result = watch_queue(
                opened.sqs,
                queue_url,
                clock=clock,
                on_update=display.update,
                until_drained=watch,
                timeout_s=timeout_s,
                poll_interval_s=poll_s,
            )
    except KeyboardInterrupt:
        typer.echo(
            "status: interrupted (only the watching stopped: the queue is untouched)", err=True
        )
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    raise typer.Exit(int(_report(result, as_json=as_json)))


def _report(result: WatchResult, *, as_json: bool) -> ExitCode:
    """The status lines on stderr (and the JSON on stdout); the exit code they mean."""
    d = result.depth
    dead = "no dead-letter queue" if d.dead_letters is None else f"{d.dead_letters:,} dead-letter"
    state = "drained" if result.drained else ("timed out" if result.timed_out else "not drained")
    typer.echo(
        f"status: {state}: {d.visible:,} waiting, {d.in_flight:,} in flight, {dead}"
        + (f" ({result.dead_letter_queue_url})" if result.dead_letter_queue_url else ""),
        err=True,
    )
    if d.dead_letters is None:
        typer.echo(f"status: note: {result.why_no_dead_letter_queue}", err=True)
    elif d.dead_letters:
        typer.echo(
            f"status: the dead-letter queue holds {d.dead_letters:,} messages: see "
            f"`asynccopy dlq --queue-url {result.dead_letter_queue_url}`",
            err=True,
        )
    if as_json:
        typer.echo(result.to_json())
    failed = bool(d.dead_letters) or result.timed_out
    return ExitCode.FAILURES if failed else ExitCode.OK


dlq_app = typer.Typer(invoke_without_command=True)


@dlq_app.callback()
def dlq(
    ctx: typer.Context,
    queue_url: Annotated[
        str | None, typer.Option("--queue-url", help="The dead-letter queue.")
    ] = None,
    table: Annotated[
        str | None,
        typer.Option(
            "--table",
            help="The destination table: its key schema names the keys of messages moved whole "
            "by the redrive policy (an item the consumer rejected names its own key).",
        ),
    ] = None,
    keys_out: Annotated[
        Path | None,
        typer.Option(
            "--keys-out",
            metavar="FILE",
            help="Write each known key once, as key-file lines for `copy --keys`.",
        ),
    ] = None,
    as_json: JsonOpt = False,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    endpoint_url: EndpointUrlOpt = None,
    role_arn: RoleArnOpt = None,
) -> None:
    """The dead-letter queue: list what is there (without consuming it), or redrive it.

    Lists each item's key, why it is there (the consumer's rejection reason, or "failed N
    receives"), and how often; the messages stay in the queue, visible again at once. Without
    --table, a message moved whole by the redrive policy is listed by reason and item count,
    its keys not known.

    Exit 0 when the queue is empty, 1 when it holds messages, 2 on bad input.
    """
    if ctx.invoked_subcommand is not None:
        return
    if queue_url is None:
        raise InputError(
            "`asynccopy dlq` needs --queue-url",
            hint="e.g. asynccopy dlq --queue-url DLQ_URL; "
            "or `asynccopy dlq redrive --queue-url DLQ_URL`",
        )
    from asynccopy.watch.clients import open_queue, table_key_names
    from asynccopy.watch.deadletters import list_dead_letters

    opened = open_queue(queue_url, _target(profile, region, endpoint_url, role_arn))
    key_names = None if table is None else table_key_names(opened, table)
    listing = list_dead_letters(opened.sqs, queue_url, key_names=key_names)
    _report_listing(listing, keys_out=keys_out)
    if as_json:
        typer.echo(listing.to_json())
    raise typer.Exit(int(ExitCode.FAILURES if listing.messages else ExitCode.OK))


def _report_listing(listing: DeadLetterListing, *, keys_out: Path | None) -> None:
    """One line per key and reason, then the totals, on stderr; the known keys to keys_out."""
    if keys_out is not None and not listing.keys and listing.unnamed_messages:
        # An empty key file would make `copy --keys` copy nothing and exit 0: refuse instead.
        raise InputError(
            f"--keys-out: no message in {listing.queue_url} names its keys "
            f"({listing.unnamed_messages:,} were moved whole by the redrive policy)",
            hint="pass --table TABLE (the destination table) to name their keys",
        )
    for row in listing.rows:
        key = row.key if row.key is not None else "-"
        typer.echo(f"{row.count}\t{key}\t{row.reason}", err=True)
    more = " (stopped there: more remain)" if listing.truncated else ""
    typer.echo(
        f"dlq: {listing.messages:,} messages{more}, {listing.items:,} items, "
        f"{len(listing.keys):,} distinct keys; left in the queue, visible",
        err=True,
    )
    if listing.unnamed_messages:
        typer.echo(
            f"dlq: pass --table TABLE to name the keys of {listing.unnamed_messages:,} "
            "messages moved whole",
            err=True,
        )
    if keys_out is not None:
        keys_out.write_text("".join(f"{key}\n" for key in listing.keys), encoding="ascii")
        left = listing.unnamed_messages
        unnamed = f" (not those of the {left:,} messages moved whole)" if left else ""
        typer.echo(f"dlq: wrote {len(listing.keys):,} keys to {keys_out}{unnamed}", err=True)


@dlq_app.command("redrive")
def dlq_redrive(
    queue_url: Annotated[str, typer.Option("--queue-url", help="The dead-letter queue.")],
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            metavar="SOURCE_URL",
            help="The queue to move the messages to (default: each message's source queue).",
        ),
    ] = None,
    as_json: JsonOpt = False,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    endpoint_url: EndpointUrlOpt = None,
    role_arn: RoleArnOpt = None,
) -> None:
    """Move the dead-letter queue's messages back to the source queue.

    For the consumer to write again (SQS StartMessageMoveTask; where the service lacks it,
    one message at a time: sent, then deleted). Items the consumer rejected name no source
    queue: give --to.

    Exit 0 when every message was moved (or the move task started), 1 when some were left,
    2 on bad input, 130 on Ctrl-C.
    """
    from asynccopy.send.queueurl import parse_queue_url
    from asynccopy.watch.clients import open_queue
    from asynccopy.watch.deadletters import redrive

    if to is not None and parse_queue_url(to) is None:
        raise InputError(
            f"--to {to!r} is not an SQS queue URL",
            hint="pass the source queue's URL, as `aws sqs get-queue-url` prints it",
        )
    opened = open_queue(queue_url, _target(profile, region, endpoint_url, role_arn))
    result = redrive(opened.sqs, queue_url, to_url=to)
    if result.move_task_handle is not None:
        typer.echo(
            f"dlq redrive: SQS is moving the messages (task {result.move_task_handle}); "
            f"watch with `asynccopy status --queue-url {queue_url}`",
            err=True,
        )
    else:
        where = ", ".join(result.destinations) or "-"
        typer.echo(f"dlq redrive: moved {result.messages_moved:,} messages to {where}", err=True)
        if result.left_without_source:
            typer.echo(
                f"dlq redrive: left {result.left_without_source:,} messages that name no "
                "source queue (items the consumer rejected): pass --to SOURCE_URL",
                err=True,
            )
    if as_json:
        typer.echo(result.to_json())
    raise typer.Exit(int(ExitCode.FAILURES if result.left_without_source else ExitCode.OK))


def register(app: typer.Typer) -> None:
    app.command("status")(status)
    app.add_typer(dlq_app, name="dlq")
