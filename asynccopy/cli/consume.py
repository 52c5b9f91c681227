"""`asynccopy consume` (the consumer Lambda's handler, run locally) and `package-consumer`."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from asynccopy.choices import DEFAULT_CONSUME_CONCURRENCY, MAX_RECEIVE_BATCH, Engine
from asynccopy.errors import ExitCode
from consumer.config import DEFAULT_WRITE_THREADS

if TYPE_CHECKING:
    from asynccopy.consume.config import RunnerConfig
    from asynccopy.consume.stats import RunSummary


QueueUrlOpt = Annotated[str, typer.Option("--queue-url", help="The queue to consume.")]
TableOpt = Annotated[str, typer.Option("--table", help="The destination table.")]
ModeOpt = Annotated[
    str,
    typer.Option(
        "--mode",
        help="overwrite | skip-existing | newer-wins:<attribute> (as the Lambda's WRITE_MODE).",
    ),
]
ConcurrencyOpt = Annotated[
    int,
    typer.Option(
        "--concurrency",
        min=1,
        max=64,
        help="Batches in flight at once. The default is the knee measured on the sandbox"
        " (make bench, 5 runs of 10,000 items; items/s as a share of each run's best):"
        " 2/4/8/16 -> 80/83/94/96%; knee at 8.",
    ),
]
BatchSizeOpt = Annotated[
    int,
    typer.Option(
        "--batch-size",
        min=1,
        max=MAX_RECEIVE_BATCH,
        help="Messages per batch (ReceiveMessage: at most 10).",
    ),
]
UntilEmptyOpt = Annotated[
    bool,
    typer.Option(
        "--until-empty",
        help="Stop once the queue stays empty (nothing visible or in flight for 2 checks in a "
        "row; receives then wait at most 1 s, so it stops about 2 s after the last write).",
    ),
]
WaitTimeOpt = Annotated[
    int,
    typer.Option(
        "--wait-time-seconds",
        min=0,
        max=20,
        help="Long-poll wait per receive (at most 1 with --until-empty).",
    ),
]
WriteThreadsOpt = Annotated[
    int,
    typer.Option("--write-threads", min=1, max=64, help="Conditional puts in flight per batch."),
]
ProgressOpt = Annotated[bool, typer.Option("--progress/--no-progress", help="Progress on stderr.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")]
ProfileOpt = Annotated[str | None, typer.Option("--profile", help="AWS profile.")]
RegionOpt = Annotated[str | None, typer.Option("--region", help="AWS region.")]
EndpointUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--endpoint-url", help="Endpoint URL (else AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL)."
    ),
]
RoleArnOpt = Annotated[str | None, typer.Option("--role-arn", help="Role to assume first.")]
ConsumerEngineOpt = Annotated[
    Engine,
    typer.Option(
        "--engine",
        envvar="CONSUMER_ENGINE",
        case_sensitive=False,
        help="How items are written, as the Lambda's CONSUMER_ENGINE: fast (signed JSON built "
        "from the messages' items, each as its text in the message) or botocore (boto3's "
        "client). Both send the same JSON.",
    ),
]


def run_consumer(config: RunnerConfig, *, progress: bool) -> RunSummary:
    """The runner, with its progress on stderr, until the queue stays empty or Ctrl-C."""
    from asynccopy.cli import options
    from asynccopy.consume.progress import Progress
    from asynccopy.consume.runner import build_runner
    from asynccopy.consume.stats import RunStats
    from consumer.gc_tuning import settled

    console, mode = options.stderr_console(progress=progress)
    stats = RunStats()
    with Progress(stats, mode=mode, console=console) as shown:
        runner = build_runner(config, stats=stats, say=shown.say)
        with settled():  # as the Lambda does after its cold start
            return runner.run(threading.Event())


def consume(
    queue_url: QueueUrlOpt,
    table: TableOpt,
    mode: ModeOpt = "overwrite",
    concurrency: ConcurrencyOpt = DEFAULT_CONSUME_CONCURRENCY,
    batch_size: BatchSizeOpt = MAX_RECEIVE_BATCH,
    until_empty: UntilEmptyOpt = False,
    wait_time_s: WaitTimeOpt = 5,
    write_threads: WriteThreadsOpt = DEFAULT_WRITE_THREADS,
    engine: ConsumerEngineOpt = Engine.FAST,
    progress: ProgressOpt = True,
    as_json: JsonOpt = False,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    endpoint_url: EndpointUrlOpt = None,
    role_arn: RoleArnOpt = None,
) -> None:
    """Write a queue's items to a table with the consumer Lambda's own handler, locally.

    Messages the handler reports failed are not deleted: they reappear after the queue's
    visibility timeout, and its redrive policy moves them to the dead-letter queue. An item
    the table refuses for good is rejected: sent alone to that dead-letter queue, named here.
    Exit 0 if every item was written or skipped, 1 if a message failed or an item was
    rejected, 2 on bad input, 130 on Ctrl-C.
    """
    from asynccopy.aws import AwsTarget
    from asynccopy.consume.config import RunnerConfig, parse_write_mode

    config = RunnerConfig(
        queue_url=queue_url,
        table_name=table,
        write_mode=parse_write_mode(mode),
        target=AwsTarget(
            profile=profile, region=region, endpoint_url=endpoint_url, role_arn=role_arn
        ),
        concurrency=concurrency,
        batch_size=batch_size,
        until_empty=until_empty,
        wait_time_s=wait_time_s,
        write_threads=write_threads,
        engine="fast" if engine is Engine.FAST else "botocore",
    )
    summary = run_consumer(config, progress=progress)
    typer.echo(f"consume: {summary.describe()}", err=True)
    if as_json:
        typer.echo(summary.to_json())
    if summary.interrupted:
        raise typer.Exit(int(ExitCode.INTERRUPTED))
    failed = summary.messages_failed > 0 or summary.items_failed > 0 or summary.items_rejected > 0
    raise typer.Exit(int(ExitCode.FAILURES if failed else ExitCode.OK))


def package_consumer(
    out: Path = typer.Option(Path("consumer.zip"), "--out", help="Where to write the zip."),
) -> None:
    """Build the consumer Lambda's zip: the consumer package as it is, nothing else."""
    from asynccopy.sandbox.package import write_consumer_zip

    package = write_consumer_zip(out)
    typer.echo(f"wrote {out} ({package.size_bytes} bytes, {len(package.files)} files)", err=True)
    typer.echo(str(out))


def register(app: typer.Typer) -> None:
    app.command("consume")(consume)
    app.command("package-consumer")(package_consumer)
