"""The flag groups shared by `copy`, `verify` and `bench`, declared once, and one function per
group that turns its values into config.

    selection   --keys | --query/--values/--names/--filter | --scan/--segments/--segment
                -> `selection(...)` (or `selection_from_flags`, by keyword) -> a Selection
    source      --profile --region --endpoint-url --role-arn        -> `aws_target(...)`
    queue       --queue-profile --queue-region --queue-endpoint-url --queue-role-arn
                -> `aws_target(...)`
    rate        --rate, --consistent-read, --concurrency, --engine
    shape       --attributes -> `projection(...)` (copy and verify);
                --keep-replication-attributes, --skip-expired, --transform (copy)
                -> `item_shape(...)`
    output      --json, --progress/--no-progress -> `stderr_console`, `print_result`

`copy` uses them all; `verify` the selection, source, rate and output options; `bench` the
source and queue options, --consistent-read, --concurrency, --engine and most selection
options (it declares its own --scan, --segments and --rate, and has no --query). `consume`
declares its own (its help words them for the Lambda's side). Each alias is an `Annotated`
type: declare a parameter with it. Nothing here imports rich, anyio, botocore or the config
modules at import time (only asynccopy.choices): `--help` stays quick.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from asynccopy.choices import MAX_SCAN_SEGMENTS, Engine
from asynccopy.errors import SelectionError

if TYPE_CHECKING:
    from rich.console import Console

    from asynccopy.aws import AwsTarget
    from asynccopy.config import ItemShape, Selection
    from asynccopy.copy.progress import ProgressMode
    from asynccopy.copy.transform import Transform
    from asynccopy.read.projection import Projection
    from asynccopy.read.rate import RateSpec

SELECTION = "Selection (exactly one of --keys, --query, --scan)"
SOURCE = "Source table credentials (AWS CLI style)"
QUEUE = "Queue credentials (default: the source side's)"
READ = "Reading"
SHAPE = "What is read of each item"
OUTPUT = "Output"
DEST = "Destination table credentials (default: the source side's)"

DestProfileOpt = Annotated[
    str | None, typer.Option("--dest-profile", help="AWS profile.", rich_help_panel=DEST)
]
DestRegionOpt = Annotated[
    str | None, typer.Option("--dest-region", help="AWS region.", rich_help_panel=DEST)
]
DestEndpointUrlOpt = Annotated[
    str | None,
    typer.Option("--dest-endpoint-url", help="Endpoint URL.", rich_help_panel=DEST),
]
DestRoleArnOpt = Annotated[
    str | None,
    typer.Option("--dest-role-arn", help="Role to assume.", rich_help_panel=DEST),
]
TableOpt = Annotated[str, typer.Option("--table", help="The source table's name.")]
KeysOpt = Annotated[
    str | None,
    typer.Option(
        "--keys",
        metavar="FILE",
        help="A file of keys, one per line (- for stdin): a bare partition-key value or a "
        "JSON object with the full key.",
        rich_help_panel=SELECTION,
    ),
]
QueryOpt = Annotated[
    str | None,
    typer.Option(
        "--query",
        metavar="KEY_CONDITION",
        help='A Query key condition, e.g. "userid = :u" (needs --values).',
        rich_help_panel=SELECTION,
    ),
]
ScanOpt = Annotated[
    bool, typer.Option("--scan", help="Scan the whole table.", rich_help_panel=SELECTION)
]
IndexOpt = Annotated[
    str | None,
    typer.Option(
        "--index",
        metavar="NAME",
        help="Read --query or --scan through this global or local secondary index; items "
        "of an index that does not project every attribute are then read whole with "
        "BatchGetItem.",
        rich_help_panel=SELECTION,
    ),
]
FilterOpt = Annotated[
    str | None,
    typer.Option(
        "--filter",
        metavar="EXPR",
        help="A FilterExpression for --scan or --query (it saves no read capacity).",
        rich_help_panel=SELECTION,
    ),
]
ValuesOpt = Annotated[
    str | None,
    typer.Option(
        "--values",
        metavar="JSON",
        help="Expression values as JSON, plain or typed: "
        '\'{":u": "user-1"}\' or \'{":u": {"S": "user-1"}}\'.',
        rich_help_panel=SELECTION,
    ),
]
NamesOpt = Annotated[
    str | None,
    typer.Option(
        "--names",
        metavar="JSON",
        help='Expression attribute names, e.g. \'{"#n": "name"}\'.',
        rich_help_panel=SELECTION,
    ),
]
SegmentsOpt = Annotated[
    int | None,
    typer.Option(
        "--segments",
        metavar="N",
        help="Scan with N parallel segments in this process.",
        rich_help_panel=SELECTION,
    ),
]
SegmentOpt = Annotated[
    str | None,
    typer.Option(
        "--segment",
        metavar="I/N",
        help="Scan only segment I (from 0) of N, so that several hosts share one table.",
        rich_help_panel=SELECTION,
    ),
]

ProfileOpt = Annotated[
    str | None, typer.Option("--profile", help="AWS profile.", rich_help_panel=SOURCE)
]
RegionOpt = Annotated[
    str | None, typer.Option("--region", help="AWS Region.", rich_help_panel=SOURCE)
]
EndpointUrlOpt = Annotated[
    str | None,
    typer.Option("--endpoint-url", help="Override the AWS endpoint URL.", rich_help_panel=SOURCE),
]
RoleArnOpt = Annotated[
    str | None,
    typer.Option("--role-arn", help="A role to assume first.", rich_help_panel=SOURCE),
]
QueueProfileOpt = Annotated[
    str | None, typer.Option("--queue-profile", help="AWS profile.", rich_help_panel=QUEUE)
]
QueueRegionOpt = Annotated[
    str | None, typer.Option("--queue-region", help="AWS Region.", rich_help_panel=QUEUE)
]
QueueEndpointUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--queue-endpoint-url", help="Override the SQS endpoint URL.", rich_help_panel=QUEUE
    ),
]
QueueRoleArnOpt = Annotated[
    str | None,
    typer.Option("--queue-role-arn", help="A role to assume first.", rich_help_panel=QUEUE),
]

RateOpt = Annotated[
    str | None,
    typer.Option(
        "--rate",
        help="Read capacity units per second from the source table: a number, a share of "
        "provisioned RCU (40%), or max. Default: 50% of provisioned RCU; on an on-demand "
        "table 50% of its read ceiling (the lower of its warm throughput and its maximum, "
        "from DescribeTable), or a fixed default if it reports neither; printed at start.",
        rich_help_panel=READ,
    ),
]
ConsistentReadOpt = Annotated[
    bool,
    typer.Option(
        "--consistent-read", help="Strongly consistent reads (twice the RCU).", rich_help_panel=READ
    ),
]
ConcurrencyOpt = Annotated[
    int,
    typer.Option(
        "--concurrency",
        min=1,
        max=256,
        help="Concurrent reads, and concurrent sends.",
        rich_help_panel=READ,
    ),
]
EngineOpt = Annotated[
    Engine,
    typer.Option(
        "--engine",
        envvar="ASYNCCOPY_ENGINE",
        case_sensitive=False,
        help="How reads and sends are made: fast (botocore's signer on one aiohttp "
        "session, items kept as the JSON they arrive in) or botocore (aiobotocore clients). "
        "Both send the same bytes.",
        rich_help_panel=READ,
    ),
]

AttributesOpt = Annotated[
    str | None,
    typer.Option(
        "--attributes",
        metavar="PATHS",
        help="Read only these attributes (and always the key's): comma-separated paths, "
        "e.g. userid,profile.address.city,tags[0]; quote a name holding a dot: '\"a.b\"'. "
        "Saves bytes on the queue, not read capacity (DynamoDB charges the full item).",
        rich_help_panel=SHAPE,
    ),
]

KeepReplicationOpt = Annotated[
    bool,
    typer.Option(
        "--keep-replication-attributes",
        help="Send the aws:rep:* attributes of legacy (2017.11.29) global tables too. By "
        "default they are stripped: in a table that is or becomes a global table they break "
        "its replication.",
        rich_help_panel=SHAPE,
    ),
]
TransformOpt = Annotated[
    str | None,
    typer.Option(
        "--transform",
        metavar="FILE.py:FUNCTION",
        help="Pass each item (DynamoDB wire JSON: a dict of AttributeValue dicts, binary as "
        "base64 text) to this function (or module:function) before it is sent; it returns "
        "the item to send, or None to skip it. Key attributes must stay unchanged; an item "
        "whose call raises or whose result is invalid fails, by key.",
        rich_help_panel=SHAPE,
    ),
]
SkipExpiredOpt = Annotated[
    bool,
    typer.Option(
        "--skip-expired",
        help="Skip items whose TTL attribute (from DescribeTimeToLive) is already in the past "
        "but that DynamoDB has not deleted yet. Refused on a table without TTL.",
        rich_help_panel=SHAPE,
    ),
]

JsonOpt = Annotated[
    bool,
    typer.Option("--json", help="Print one JSON summary on stdout.", rich_help_panel=OUTPUT),
]
ProgressOpt = Annotated[
    bool,
    typer.Option(
        "--progress/--no-progress", help="Show progress on stderr.", rich_help_panel=OUTPUT
    ),
]


def aws_target(
    profile: str | None, region: str | None, endpoint_url: str | None, role_arn: str | None, /
) -> AwsTarget:
    """One side's credential flags, in the order every side declares them: profile, region,
    endpoint URL, role ARN (--profile ..., --queue-profile ..., --dest-profile ...)."""
    from asynccopy.aws import AwsTarget

    return AwsTarget(profile=profile, region=region, endpoint_url=endpoint_url, role_arn=role_arn)


def projection(attributes: str | None) -> Projection | None:
    """--attributes parsed (None: whole items), or a ProjectionError (exit 2)."""
    from asynccopy.read.projection import parse_attributes

    return None if attributes is None else parse_attributes(attributes)


def item_shape(
    attributes: str | None, keep_replication: bool, skip_expired: bool, transform: str | None, /
) -> ItemShape:
    """The item-shape flags of `copy`, in the order it declares them; --transform is loaded
    here, so a bad one is refused (exit 2) before anything is read."""
    from asynccopy.config import ItemShape

    return ItemShape(
        projection=projection(attributes),
        keep_replication_attributes=keep_replication,
        skip_expired=skip_expired,
        transform=load_transform(transform),
    )


def load_transform(spec: str | None) -> Transform | None:
    """--transform's function, imported (or a TransformSpecError); None without the flag."""
    if spec is None:
        return None
    from asynccopy.copy.transform import load_transform as load

    return load(spec)


def read_rate(rate: str | None) -> RateSpec:
    """--rate as a RateSpec (None: the default, 50% of the table's capacity), or a RateError."""
    from asynccopy.read.rate import parse_rate

    return parse_rate(rate)


def stderr_console(*, progress: bool) -> tuple[Console, ProgressMode]:
    """The console that progress and notes go to (stderr: stdout is for the result), and the
    progress mode --progress/--no-progress and the terminal allow."""
    from rich.console import Console

    from asynccopy.copy.progress import ProgressMode

    console = Console(stderr=True)
    return console, ProgressMode.choose(enabled=progress, console=console)


def stdout_is_terminal() -> bool:
    """Whether the result goes to a terminal, as rich decides it for progress (progress.py):
    box characters and styles only there."""
    from rich.console import Console

    return Console().is_terminal


def print_result(*, as_json: bool, document: Callable[[], object], text: Callable[[], str]) -> None:
    """The result on stdout: one JSON document with --json, else the text for a person."""
    print(json.dumps(document()) if as_json else text())


_SEGMENT = re.compile(r"\s*([0-9]+)\s*/\s*([0-9]+)\s*")


def _segments(segments: int | None, segment: str | None) -> tuple[int, tuple[int, ...]]:
    if segments is not None and segment is not None:
        raise SelectionError(
            "--segments and --segment cannot be combined",
            hint="--segments N scans all N here; --segment I/N scans one of them",
        )
    if segment is not None:
        match = _SEGMENT.fullmatch(segment)
        if match is None:
            raise SelectionError(f"--segment {segment!r} is not I/N", hint="e.g. --segment 0/4")
        index, total = int(match[1]), int(match[2])
        if not 0 <= index < total:
            raise SelectionError(
                f"--segment {segment}: I must be 0..N-1", hint=f"e.g. --segment 0/{max(total, 1)}"
            )
        return total, (index,)
    total = 1 if segments is None else segments
    if not 1 <= total <= MAX_SCAN_SEGMENTS:
        raise SelectionError(
            f"--segments {total} must be 1..{MAX_SCAN_SEGMENTS}",
            hint="e.g. --segments 4 (one Scan segment per concurrent reader), or leave it out",
        )
    return total, tuple(range(total))


def _check_one_of(*, keys: str | None, query: str | None, scan: bool) -> None:
    chosen = [
        flag
        for flag, given in (
            ("--keys", keys is not None),
            ("--query", query is not None),
            ("--scan", scan),
        )
        if given
    ]
    if len(chosen) != 1:
        raise SelectionError(
            "choose the items with exactly one of --keys, --query or --scan"
            + (f" (got {' and '.join(chosen)})" if chosen else ""),
            hint="e.g. --keys keys.txt",
        )


def selection(
    keys: str | None,
    query: str | None,
    scan: bool,
    filter_expression: str | None,
    values: str | None,
    names: str | None,
    segments: int | None,
    segment: str | None,
    index: str | None = None,
    /,
) -> Selection:
    """`selection_from_flags` for a command that declares every selection flag, in the order
    declared here (the call then fits one line)."""
    return selection_from_flags(
        keys=keys,
        query=query,
        scan=scan,
        filter_expression=filter_expression,
        values=values,
        names=names,
        segments=segments,
        segment=segment,
        index=index,
    )


def _check_keys_alone(expressions: bool, index: str | None) -> None:
    """A SelectionError for flags a key file does not take: it names whole keys of the table."""
    if expressions:
        raise SelectionError(
            "--filter, --values and --names go with --query or --scan, not --keys",
            hint="a key file names whole keys: drop --filter, --values and --names",
        )
    if index is not None:
        raise SelectionError(
            "--index goes with --query or --scan, not --keys",
            hint="a key file names the table's keys: drop --index",
        )


def selection_from_flags(
    *,
    keys: str | None,
    query: str | None,
    scan: bool,
    filter_expression: str | None = None,
    values: str | None = None,
    names: str | None = None,
    segments: int | None = None,
    segment: str | None = None,
    index: str | None = None,
) -> Selection:
    """Exactly one selection, or a SelectionError (exit 2) naming the conflict."""
    from asynccopy.config import KeysSelection, QuerySelection, ScanSelection
    from asynccopy.read.keys import parse_names_json, parse_values_json

    _check_one_of(keys=keys, query=query, scan=scan)
    if not scan and (segments is not None or segment is not None):
        raise SelectionError(
            "--segments and --segment go with --scan",
            hint="add --scan, or drop --segments/--segment",
        )
    parsed_values = parse_values_json(values, flag="--values") if values is not None else {}
    parsed_names = parse_names_json(names, flag="--names") if names is not None else {}
    if keys is not None:
        _check_keys_alone(bool(filter_expression) or values is not None or names is not None, index)
        return KeysSelection(path=keys)
    if query is not None:
        if values is None:
            raise SelectionError(
                "--query needs --values for its placeholders",
                hint='e.g. --query "userid = :u" --values \'{":u": "user-0000001"}\'',
            )
        return QuerySelection(
            key_condition=query,
            values=parsed_values,
            names=parsed_names,
            filter_expression=filter_expression,
            index_name=index,
        )
    if not filter_expression and (values is not None or names is not None):
        # DynamoDB refuses expression values or names that no expression uses.
        raise SelectionError(
            "--values and --names go with --filter when scanning",
            hint='e.g. --scan --filter "active = :t" --values \'{":t": true}\'',
        )
    total, chosen_segments = _segments(segments, segment)
    return ScanSelection(
        total_segments=total,
        segments=chosen_segments,
        filter_expression=filter_expression,
        values=parsed_values,
        names=parsed_names,
        index_name=index,
    )
