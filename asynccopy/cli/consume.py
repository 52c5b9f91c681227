"""`asynccopy consume` (the consumer Lambda's handler, run locally) and `package-consumer`."""

from __future__ import annotations

import threading
from pathlib import Path

import typer

from asynccopy.aws import AwsTarget
from asynccopy.config import Engine
from asynccopy.consume.config import MAX_RECEIVE_BATCH, RunnerConfig, parse_write_mode
from asynccopy.errors import ExitCode
from consumer.config import DEFAULT_WRITE_THREADS


def consume(
    queue_url: str = typer.Option(..., "--queue-url", help="The queue to consume."),
    table: str = typer.Option(..., "--table", help="The destination table."),
    mode: str = typer.Option(
        "overwrite",
        "--mode",
        help="overwrite | skip-existing | newer-wins:<attribute> (as the Lambda's WRITE_MODE).",
    ),
    concurrency: int = typer.Option(
        2, "--concurrency", min=1, max=64, help="Batches in flight at once."
    ),
    batch_size: int = typer.Option(
        MAX_RECEIVE_BATCH,
        "--batch-size",
        min=1,
        max=MAX_RECEIVE_BATCH,
        help="Messages per batch (ReceiveMessage: at most 10).",
    ),
    until_empty: bool = typer.Option(
        False,
        "--until-empty",
        help="Stop once the queue stays empty (nothing visible or in flight).",
    ),
    wait_time_s: int = typer.Option(
        5, "--wait-time-seconds", min=0, max=20, help="Long-poll wait per receive."
    ),
    write_threads: int = typer.Option(
        DEFAULT_WRITE_THREADS,
        "--write-threads",
        min=1,
        max=64,
        help="Conditional puts in flight per batch.",
    ),
    engine: Engine = typer.Option(
        Engine.FAST,
        "--engine",
        envvar="CONSUMER_ENGINE",
        case_sensitive=False,
        help="How items are written, as the Lambda's CONSUMER_ENGINE: fast (signed JSON built "
        "from the messages' items) or botocore (boto3's client). Both send the same bytes.",
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress on stderr."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
    profile: str | None = typer.Option(None, "--profile", help="AWS profile."),
    region: str | None = typer.Option(None, "--region", help="AWS region."),
    endpoint_url: str | None = typer.Option(
        None,
        "--endpoint-url",
        help="Endpoint URL (else AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL).",
    ),
    role_arn: str | None = typer.Option(None, "--role-arn", help="Role to assume first."),
) -> None:
    """Write a queue's items to a table with the consumer Lambda's own handler, locally.

    Messages the handler reports failed are not deleted: they reappear after the queue's
    visibility timeout, and its redrive policy moves them to the dead-letter queue. An item
    the table refuses for good is rejected: sent alone to that dead-letter queue, named here.
    Exit 0 if every item was written or skipped, 1 if a message failed or an item was
    rejected, 2 on bad input, 130 on Ctrl-C.
    """
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
    from rich.console import Console

    from asynccopy.consume.progress import Progress
    from asynccopy.consume.runner import build_runner
    from asynccopy.consume.stats import RunStats
    from asynccopy.copy.progress import ProgressMode

    console = Console(stderr=True)
    stats = RunStats()
    with Progress(
        stats, mode=ProgressMode.choose(enabled=progress, console=console), console=console
    ) as shown:
        runner = build_runner(config, stats=stats, say=shown.say)
        summary = runner.run(threading.Event())
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
