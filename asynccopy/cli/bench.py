"""`asynccopy bench`: flags -> BenchConfig -> bench.bench -> a rich table (or JSON) -> exit code."""

from __future__ import annotations

import json
import sys
from functools import partial
from typing import TYPE_CHECKING, Annotated, Final

import typer

from asynccopy.bench.defaults import DEFAULT_STEP_SECONDS, DEFAULT_STEPS_PERCENT, MAX_STEPS
from asynccopy.choices import DEFAULT_CONCURRENCY, Engine
from asynccopy.cli import options
from asynccopy.errors import InputError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from asynccopy.bench.advice import BenchResult
    from asynccopy.bench.bench import BenchConfig
    from asynccopy.bench.steps import StepResult
    from asynccopy.config import KeysSelection, ScanSelection

BENCH: Final = "Benchmark"
OUTPUT: Final = "Output"
DEFAULT_STEPS_TEXT: Final = ",".join(f"{percent:g}" for percent in DEFAULT_STEPS_PERCENT)


def parse_steps(text: str) -> tuple[float, ...]:
    """`25,50,75%` -> (25.0, 50.0, 75.0): shares of the base rate, in percent."""
    from asynccopy.read.rate import parse_number

    steps: list[float] = []
    for part in text.split(","):
        cleaned = part.strip().removesuffix("%").strip()
        share = parse_number(cleaned)  # the same number syntax as --rate
        value = -1.0 if share is None else share.numerator / share.denominator
        if not 0 < value <= 1000:
            raise InputError(
                f"--steps {text!r}: {part.strip()!r} is not a percentage in (0, 1000]",
                hint="e.g. --steps 25,50,75,100,125",
            )
        steps.append(value)
    if len(steps) > MAX_STEPS:
        raise InputError(f"--steps {text!r}: at most {MAX_STEPS} steps")
    return tuple(steps)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _row(step: StepResult, result: BenchResult) -> list[str]:
    held = "[green]ok[/]" if result.holds(step) else "[red]no[/]"
    row = [
        f"{step.percent:g}% {held}",
        f"{step.target_rcu_per_s:.0f}",
        f"{step.achieved_rcu_per_s:.0f}",
        f"{step.achieved_share:.0%}",
        str(step.throttles),
        _ms(step.read_latency.p50_ms),
        _ms(step.read_latency.p99_ms),
        f"{step.cpu_share:.0%}",
        f"{step.reads_in_flight:.1f}",
        str(result.limit_of(step)),
    ]
    if result.queue_url is not None:
        row.append("-" if step.items_sent is None else str(step.items_sent))
    return row


def _describe(result: BenchResult) -> str:
    return (
        f"bench {result.table}: {result.workload}; 100% = {result.base_description}; "
        f"{result.step_seconds:g} s per step, concurrency {result.concurrency}, "
        f"engine {result.engine}"
        + ("" if result.queue_url is None else f"; reads and sends to {result.queue_url}")
    )


def _table(result: BenchResult) -> Table:
    from rich import box
    from rich.table import Table

    # Compact headers and borders: the table fits 80 columns, where piped output is drawn.
    table = Table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        padding=(0, 1),
        collapse_padding=True,
        caption=(
            "ok: held >= 95% of its target, hardly throttled; target and got: achieved, in "
            "RCU/s; %: got over target; thr: throttled calls; p50 and p99: read latency in "
            "ms; cpu: process time over wall time; busy: mean reads in flight; limit: table "
            "(throttled), client (CPU-bound), concurrency (every reader busy), none (held)"
        ),
        caption_justify="left",
    )
    names = ("step", "target", "got", "%", "thr", "p50", "p99", "cpu", "busy")
    for name in names:
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("limit", justify="left", no_wrap=True, min_width=len("concurrency"))
    if result.queue_url is not None:
        table.add_column("sent", justify="right", no_wrap=True)
    for step in result.steps:
        table.add_row(*_row(step, result))
    return table


def _render_steps_notes(result: BenchResult, console: Console) -> None:
    from asynccopy.copy.summary import reasons_text

    for step in result.steps:
        if step.error is not None:
            console.print(f"step {step.percent:g}% stopped: {step.error}", markup=False)
        if step.throttle_reasons:
            console.print(
                f"step {step.percent:g}% throttled: {reasons_text(step.throttle_reasons)}",
                markup=False,
                highlight=False,
            )


def _render_advice(result: BenchResult, console: Console) -> None:
    advice = result.recommendation
    if advice.limit is not None:
        console.print(f"verdict: limit [bold]{advice.limit}[/]", highlight=False)
    for caveat in advice.caveats:
        console.print(f"[yellow]caveat[/]: {caveat}", highlight=False)
    if advice.rate_rcu_per_s is None:
        console.print(f"[yellow]no recommendation[/]: {advice.reason}", highlight=False)
        return
    console.print(
        f"recommended: [bold]asynccopy copy --rate {advice.rate_rcu_per_s:g} "
        f"--concurrency {advice.concurrency}[/]"
        + (f" --segments {advice.concurrency}" if result.workload.startswith("scan") else ""),
        highlight=False,
    )
    console.print(f"  ({advice.reason})", markup=False, highlight=False)


def render(result: BenchResult, console: Console) -> None:
    """The steps as a table, then the recommendation, on `console`."""
    console.print(_describe(result), markup=False, highlight=False)
    console.print(_table(result))
    _render_steps_notes(result, console)
    _render_advice(result, console)


BenchScanOpt = Annotated[
    bool,
    typer.Option(
        "--scan",
        help="Read with a parallel Scan (the default), from the top again when it ends.",
        rich_help_panel=options.SELECTION,
    ),
]
BenchSegmentsOpt = Annotated[
    int | None,
    typer.Option(
        "--segments",
        metavar="N",
        help="Scan segments read in parallel (default: --concurrency).",
        rich_help_panel=options.SELECTION,
    ),
]
BenchRateOpt = Annotated[
    str | None,
    typer.Option(
        "--rate",
        help="The 100% step in RCU/s (or a share of provisioned RCU, 40%). Default: the "
        "table's provisioned RCU, or an on-demand table's warm throughput or maximum "
        "(the lower); required for an on-demand table that reports neither.",
        rich_help_panel=BENCH,
    ),
]
StepsOpt = Annotated[
    str,
    typer.Option(
        "--steps",
        metavar="P1,P2,...",
        help="The steps, in percent of the 100% step.",
        rich_help_panel=BENCH,
    ),
]
StepSecondsOpt = Annotated[
    float,
    typer.Option(
        "--step-seconds", min=0.5, max=3600, help="Seconds per step.", rich_help_panel=BENCH
    ),
]
BenchQueueUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--queue-url",
        help="Also pack and send what each step reads to this queue, to measure the whole "
        "producer. This writes REAL messages: use a scratch queue, or purge it afterwards "
        "(a consumer on it would write the items to its table).",
        rich_help_panel=BENCH,
    ),
]
BenchJsonOpt = Annotated[
    bool,
    typer.Option("--json", help="Print the result as JSON on stdout.", rich_help_panel=OUTPUT),
]


def bench_selection(
    *,
    keys: str | None,
    scan: bool,
    filter_expression: str | None,
    values: str | None,
    names: str | None,
    segments: int | None,
    segment: str | None,
    concurrency: int,
) -> KeysSelection | ScanSelection:
    """The workload: the key file, or a Scan (the default) with one segment per reader unless
    --segments or --segment says otherwise."""
    from asynccopy.config import KeysSelection, ScanSelection

    selection = options.selection_from_flags(
        keys=keys,
        query=None,
        scan=scan or keys is None,  # --scan is the default workload
        filter_expression=filter_expression,
        values=values,
        names=names,
        # A Scan reads one segment per reader: by default as many segments as readers.
        segments=concurrency if keys is None and segment is None and segments is None else segments,
        segment=segment,
    )
    assert isinstance(selection, KeysSelection | ScanSelection)
    return selection


def run_bench(config: BenchConfig) -> BenchResult:
    """The steps, each reported on stderr as it ends; returns them with the recommendation."""
    import anyio
    from rich.console import Console

    from asynccopy.bench.bench import bench

    console = Console(stderr=True)
    if config.queue_url is not None:
        console.print(
            f"[yellow]note[/]: every step sends what it reads to {config.queue_url}: these are "
            "real messages (purge the queue afterwards if it is not a scratch queue)",
            highlight=False,
        )
    total = len(config.steps_percent)
    done: list[StepResult] = []

    def on_step(step: StepResult) -> None:
        done.append(step)
        console.print(
            f"step {len(done)}/{total}: {step.percent:g}% = {step.target_rcu_per_s:g} RCU/s "
            f"-> {step.achieved_rcu_per_s:.1f} RCU/s, {step.throttles} throttled, "
            f"cpu {step.cpu_share:.0%}",
            markup=False,
            highlight=False,
        )

    result = anyio.run(partial(bench, config, on_step=on_step, stdin=sys.stdin.buffer))
    render(result, console)
    return result


def bench_command(
    table: options.TableOpt,
    keys: options.KeysOpt = None,
    scan: BenchScanOpt = False,
    filter_expression: options.FilterOpt = None,
    values: options.ValuesOpt = None,
    names: options.NamesOpt = None,
    segments: BenchSegmentsOpt = None,
    segment: options.SegmentOpt = None,
    rate: BenchRateOpt = None,
    steps: StepsOpt = DEFAULT_STEPS_TEXT,
    step_seconds: StepSecondsOpt = DEFAULT_STEP_SECONDS,
    queue_url: BenchQueueUrlOpt = None,
    consistent_read: options.ConsistentReadOpt = False,
    concurrency: options.ConcurrencyOpt = DEFAULT_CONCURRENCY,
    engine: options.EngineOpt = Engine.FAST,
    profile: options.ProfileOpt = None,
    region: options.RegionOpt = None,
    endpoint_url: options.EndpointUrlOpt = None,
    role_arn: options.RoleArnOpt = None,
    queue_profile: options.QueueProfileOpt = None,
    queue_region: options.QueueRegionOpt = None,
    queue_endpoint_url: options.QueueEndpointUrlOpt = None,
    queue_role_arn: options.QueueRoleArnOpt = None,
    as_json: BenchJsonOpt = False,
) -> None:
    """Measure read throughput against capacity, step by step, and recommend --rate and
    --concurrency for `copy`. Reads only, unless --queue-url is given."""
    workload = bench_selection(
        keys=keys,
        scan=scan,
        filter_expression=filter_expression,
        values=values,
        names=names,
        segments=segments,
        segment=segment,
        concurrency=concurrency,
    )
    from asynccopy.bench.bench import BenchConfig
    from asynccopy.read.rate import parse_rate

    config = BenchConfig(
        table=table,
        workload=workload,
        rate=None if rate is None else parse_rate(rate),
        steps_percent=parse_steps(steps),
        step_seconds=step_seconds,
        concurrency=concurrency,
        consistent_read=consistent_read,
        queue_url=queue_url,
        engine=engine,
        source=options.aws_target(profile, region, endpoint_url, role_arn),
        queue=options.aws_target(queue_profile, queue_region, queue_endpoint_url, queue_role_arn),
    )
    result = run_bench(config)
    if as_json:
        print(json.dumps(result.to_json()))


def register(app: typer.Typer) -> None:
    app.command("bench")(bench_command)
