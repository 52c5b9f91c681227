"""Every row of docs/bad-input.md, driven as a user runs the CLI: exit code, message, one line
on stderr, and nothing sent to the queue.
"""

from __future__ import annotations

import json
import re
import stat
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from botocore.exceptions import ClientError

from asynccopy.errors import FifoQueueError, InputError
from asynccopy.read.tables import describe_table
from asynccopy.sandbox import SandboxServer
from asynccopy.send.packing import DEFAULT_MAX_MESSAGE_BYTES
from asynccopy.send.sender import queue_max_message_bytes
from consumer.wire import encode_items
from tests.consumer_helpers import received_items
from tests.sandbox_helpers import DEST_ACCOUNT, SOURCE_ACCOUNT, Sandbox, create_table

DOC = Path(__file__).resolve().parents[1] / "docs" / "bad-input.md"
QUEUE = "bad-input"
OTHER_QUEUE = "bad-input-other"
TINY_QUEUE = "bad-input-tiny"  # MaximumMessageSize 1024, the least SQS allows
PROVISIONED = "users-provisioned"  # like users, with provisioned capacity
FIFO_QUEUE = "bad-input.fifo"
REDRIVEN_QUEUE = "bad-input-redriven"  # a source queue, with a dead-letter queue
WHOLE_DLQ = "bad-input-whole-dlq"  # a dead-letter queue holding one message moved whole
ERROR_PREFIX = "asynccopy: error: "


@dataclass(frozen=True, kw_only=True)
class Row:
    """One bad input. `{queue}`, `{tmp}` and `{keys}` in args are filled in per test."""

    id: str
    args: tuple[str, ...]
    message: str  # a stable part of the one line on stderr
    keys: str | bytes | None = None  # the key file's content, at {keys}
    exit_code: int = 2
    account: str = SOURCE_ACCOUNT
    profile_file: bool = False  # point AWS_CONFIG_FILE at a config without the profile
    checkpoint: str | None = None  # the content of {tmp}/cp.json before the run
    foreign_checkpoint: bool = False  # {tmp}/cp.json recorded by a copy to another queue
    # {tmp}/cp.json recorded by a copy of {keys} to {other_queue} with these flags
    checkpoint_flags: tuple[str, ...] | None = None


def _copy(*args: str, table: str = "users") -> tuple[str, ...]:
    return ("copy", "--table", table, "--queue-url", "{queue}", *args)


def _keys(*args: str, table: str = "users") -> tuple[str, ...]:
    return ("copy", "--table", table, "--queue-url", "{queue}", "--keys", "{keys}", *args)


ROWS: tuple[Row, ...] = (
    # --- key files --------------------------------------------------------------------------
    Row(id="key-bad-json", args=_keys(), keys='user-0\n{"userid": \n',
        message="keys.txt line 2: not valid JSON"),
    Row(id="key-json-array", args=_keys(), keys='["user-0"]\n',
        message="keys.txt line 1: a JSON key line must be an object"),
    Row(id="key-wrong-value-shape", args=_keys(), keys='{"userid": ["user-0"]}\n',
        message="keys.txt line 1: key attribute 'userid' must be of type S, not L"),
    Row(id="key-blank-but-not-blank", args=_keys(), keys="user-0\n\u200b\u00a0\u200b\n",
        message="keys.txt line 2: the line looks blank but holds invisible characters "
        "(U+00A0, U+200B)"),
    Row(id="key-byte-order-mark", args=_keys(), keys="\ufeffuser-0\n",
        message="keys.txt line 1: the line holds invisible characters (U+FEFF)"),
    Row(id="key-control-character", args=_keys(), keys="user-0\nuser\x00-1\n",
        message="keys.txt line 2: the line holds invisible characters (U+0000)"),
    Row(id="key-not-utf8", args=_keys(), keys=b"user-0\n\xff\xfe\n",
        message="keys.txt line 2: is not valid UTF-8"),
    Row(id="key-empty-value", args=_keys(), keys='{"userid": ""}\n',
        message="keys.txt line 1: key attribute 'userid' must not be empty"),
    Row(id="key-n-given-text", args=_keys(table="numbered"), keys="17\nabc\n",
        message="keys.txt line 2: key attribute 'id' (N): 'abc' is not a number"),
    Row(id="key-n-out-of-range", args=_keys(table="numbered"), keys="17\n1e200\n",
        message="keys.txt line 2: key attribute 'id' (N): 1e200 is outside the range of "
        "DynamoDB numbers"),
    Row(id="key-n-too-small", args=_keys(table="numbered"), keys='17\n{"id": -1e-200}\n',
        message="keys.txt line 2: key attribute 'id': -1e-200 is outside the range of "
        "DynamoDB numbers"),
    Row(id="key-n-39-digits", args=_keys(table="numbered"), keys="17\n" + "1" * 39 + "\n",
        message="keys.txt line 2: key attribute 'id' (N): " + "1" * 39 + " has 39 significant "
        "digits, more than the 38 of a DynamoDB number"),
    Row(id="key-b-not-base64", args=_keys(table="blobs"), keys="AAE=\nnot base64!\n",
        message="keys.txt line 2: key attribute 'blob' (B): 'not base64!' is not valid base64"),
    Row(id="key-composite-missing-sort", args=_keys(table="events"), keys='{"tenant": "t"}\n',
        message="keys.txt line 1: the key attribute 'seq' is missing"),
    Row(id="key-composite-bare", args=_keys(table="events"), keys="t\n",
        message="keys.txt line 1: the table also has the sort key 'seq'"),
    Row(id="key-extra-attribute", args=_keys(), keys='{"userid": "user-0", "name": "x"}\n',
        message="keys.txt line 1: 'name' is not a key attribute of the table (its key is userid)"),
    Row(id="key-file-missing", args=_copy("--keys", "{tmp}/nope.txt"),
        message="cannot read the key file"),
    # --- what the flags name ----------------------------------------------------------------
    Row(id="missing-table", args=_keys(table="nope"), keys="user-0\n",
        message="table 'nope' was not found in region us-east-1 (check --table"),
    Row(id="missing-queue", args=("copy", "--table", "users", "--queue-url", "{queue}-nope",
        "--keys", "{keys}"), keys="user-0\n",
        message="-nope does not exist or is not reachable (AWS.SimpleQueueService."
        "NonExistentQueue)"),
    Row(id="unknown-profile", args=_keys("--profile", "ghost"), keys="user-0\n",
        profile_file=True, message="the AWS profile 'ghost' was not found"),
    # --- the queue URL: refused before any call ---------------------------------------------
    Row(id="queue-fifo", args=("copy", "--table", "users", "--queue-url", "{fifo_queue}",
        "--keys", "{keys}"), keys="user-0\n",
        message=".fifo is a FIFO queue; asynccopy needs a standard queue"),
    Row(id="queue-url-not-sqs", args=("copy", "--table", "users", "--queue-url",
        "https://example.com/q", "--keys", "{keys}"), keys="user-0\n",
        message="--queue-url 'https://example.com/q' is not an SQS queue URL"),
    Row(id="queue-url-other-host", args=("copy", "--table", "users", "--queue-url",
        "http://127.0.0.1:9/222222222222/bad-input", "--keys", "{keys}"), keys="user-0\n",
        message="--queue-url http://127.0.0.1:9/222222222222/bad-input is on 127.0.0.1:9, but "
        "the queue's calls would go to"),
    Row(id="queue-url-aws-but-endpoint-elsewhere", args=("copy", "--table", "users",
        "--queue-url", "https://sqs.us-east-1.amazonaws.com/222222222222/bad-input",
        "--keys", "{keys}"), keys="user-0\n",
        message="is on sqs.us-east-1.amazonaws.com:443, but the queue's calls would go to"),
    Row(id="queue-endpoint-disagrees", args=_keys("--queue-endpoint-url", "http://127.0.0.1:9"),
        keys="user-0\n",
        message="but the queue's calls would go to http://127.0.0.1:9, set by "
        "--queue-endpoint-url"),
    Row(id="queue-region-disagrees", args=("copy", "--table", "users", "--queue-url",
        "https://sqs.eu-west-1.amazonaws.com/222222222222/bad-input", "--queue-region",
        "us-east-1", "--keys", "{keys}"), keys="user-0\n",
        message="is in region eu-west-1, but --queue-region says us-east-1"),
    Row(id="queue-profile-region-disagrees", args=("copy", "--table", "users", "--queue-url",
        "https://sqs.eu-west-1.amazonaws.com/222222222222/bad-input", "--queue-profile",
        "someone-else", "--keys", "{keys}"), keys="user-0\n", profile_file=True,
        message="is in region eu-west-1, but --queue-profile someone-else says us-east-1"),
    # --- rates ------------------------------------------------------------------------------
    Row(id="rate-zero", args=_keys("--rate", "0"), keys="user-0\n",
        message="--rate '0': the rate must be more than zero"),
    Row(id="rate-negative", args=_keys("--rate", "-1"), keys="user-0\n",
        message="--rate '-1': the rate must be more than zero"),
    Row(id="rate-word", args=_keys("--rate", "abc"), keys="user-0\n",
        message="--rate 'abc': the rate is not a number"),
    Row(id="rate-zero-percent", args=_keys("--rate", "0%"), keys="user-0\n",
        message="--rate '0%': the percentage must be more than zero"),
    Row(id="rate-over-100-percent", args=_keys("--rate", "150%"), keys="user-0\n",
        message="--rate '150%': a share of provisioned capacity is at most 100%"),
    Row(id="rate-percent-on-demand", args=_keys("--rate", "40%"), keys="user-0\n",
        message="--rate '40%': the table 'users' is on-demand, so it has no provisioned capacity "
        "to take a share of"),
    # --- flags that conflict ----------------------------------------------------------------
    Row(id="two-selections", args=_keys("--scan"), keys="user-0\n",
        message="choose the items with exactly one of --keys, --query or --scan "
        "(got --keys and --scan)"),
    Row(id="no-selection", args=_copy(),
        message="choose the items with exactly one of --keys, --query or --scan"),
    Row(id="segment-and-segments", args=_copy("--scan", "--segments", "2", "--segment", "0/2"),
        message="--segments and --segment cannot be combined"),
    Row(id="segments-without-scan", args=_keys("--segments", "2"), keys="user-0\n",
        message="--segments and --segment go with --scan"),
    Row(id="segment-out-of-range", args=_copy("--scan", "--segment", "4/4"),
        message="--segment 4/4: I must be 0..N-1"),
    Row(id="segments-zero", args=_copy("--scan", "--segments", "0"),
        message="--segments 0 must be 1..1000000 (e.g. --segments 4"),
    Row(id="values-with-keys", args=_keys("--values", '{":u": "x"}'), keys="user-0\n",
        message="--filter, --values and --names go with --query or --scan, not --keys (a key "
        "file names whole keys"),
    Row(id="query-without-values", args=_copy("--query", "userid = :u"),
        message="--query needs --values for its placeholders"),
    Row(id="values-not-json", args=_copy("--query", "userid = :u", "--values", "{"),
        message="--values is not valid JSON"),
    Row(id="values-number-out-of-range",
        args=_copy("--scan", "--filter", "n > :n", "--values", '{":n": 1e200}'),
        message="--values :n: 1e200 is outside the range of DynamoDB numbers"),
    Row(id="attributes-empty", args=_copy("--scan", "--attributes", ""),
        message="--attributes '': names no attribute"),
    Row(id="attributes-malformed", args=_copy("--scan", "--attributes", 'name,"city'),
        message="--attributes 'name,\"city': a quoted name is not closed at character 11"),
    Row(id="attributes-overlap", args=_copy("--scan", "--attributes", "profile,profile.address"),
        message="--attributes 'profile,profile.address': profile already includes "
        "profile.address"),
    Row(id="transform-no-function", args=_keys("--transform", "mask.py"), keys="user-0\n",
        message="--transform 'mask.py': no ':function' part"),
    Row(id="transform-missing-file", args=_keys("--transform", "{tmp}/nope.py:transform"),
        keys="user-0\n", message="nope.py:transform': no file "),
    Row(id="transform-import-error", args=_keys("--transform", "{keys}:transform"),
        keys="user-0\n", message="failed: NameError: name 'user' is not defined"),
    Row(id="transform-no-such-function", args=_keys("--transform", "json:nope"),
        keys="user-0\n", message="--transform 'json:nope': json has no 'nope'"),
    Row(id="transform-not-callable", args=_keys("--transform", "os:sep"), keys="user-0\n",
        message="--transform 'os:sep': os.sep is a str, not a function"),
    Row(id="skip-expired-without-ttl", args=_keys("--skip-expired"), keys="user-0\n",
        message="--skip-expired: table 'users' has no TTL attribute (TTL is DISABLED) (drop "
        "--skip-expired: without TTL no item expires)"),
    Row(id="index-missing",
        args=_copy("--query", "tenant = :t", "--values", '{":t": "t"}', "--index", "nope",
                   table="events"),
        message="table 'events' has no index 'nope' (its indexes: byKind (global, projection "
        "KEYS_ONLY), byTime (local, projection ALL))"),
    Row(id="index-consistent-read-on-gsi",
        args=_copy("--query", "kind = :k", "--values", '{":k": "k"}', "--index", "byKind",
                   "--consistent-read", table="events"),
        message="--consistent-read cannot read through global secondary index 'byKind'"),
    Row(id="index-with-keys", args=_keys("--index", "byKind"), keys="user-0\n",
        message="--index goes with --query or --scan, not --keys"),
    Row(id="values-without-filter", args=_copy("--scan", "--values", '{":u": "x"}',
        "--checkpoint", "{tmp}/cp.json"),
        message="--values and --names go with --filter when scanning"),
    Row(id="no-checkpoint-and-resume", args=_keys("--no-checkpoint", "--resume"),
        keys="user-0\n",
        message="--no-checkpoint cannot be combined with --resume or --checkpoint (drop "
        "--no-checkpoint"),
    Row(id="dry-run-and-resume", args=_keys("--dry-run", "--resume"), keys="user-0\n",
        message="--resume cannot be combined with --dry-run"),
    Row(id="dry-run-and-wait", args=_keys("--dry-run", "--wait"), keys="user-0\n",
        message="--wait and --max-queue-depth cannot be combined with --dry-run (a dry run "
        "sends nothing"),
    Row(id="wait-timeout-without-wait", args=_keys("--wait-timeout", "60"), keys="user-0\n",
        message="--wait-timeout 60 needs --wait and a positive number of seconds"),
    Row(id="max-queue-depth-zero", args=_keys("--max-queue-depth", "0"), keys="user-0\n",
        message="--max-queue-depth 0 must be at least 1"),
    Row(id="unknown-flag", args=_keys("--concurency", "4"), keys="user-0\n",
        message="No such option: --concurency"),
    Row(id="concurrency-zero", args=_keys("--concurrency", "0"), keys="user-0\n",
        message="Invalid value for '--concurrency'"),
    # --- checkpoints ------------------------------------------------------------------------
    Row(id="checkpoint-corrupt", args=_keys("--checkpoint", "{tmp}/cp.json", "--resume"),
        keys="user-0\n", checkpoint='{"format": "asynccopy-checkpoint", "vers',
        message="cp.json: is corrupt (not JSON, or truncated)"),
    Row(id="checkpoint-foreign", args=_keys("--checkpoint", "{tmp}/cp.json", "--resume"),
        keys="user-0\n", foreign_checkpoint=True, message="cp.json: is for queue "),
    Row(id="checkpoint-other-flags", args=("copy", "--table", "users", "--queue-url",
        "{other_queue}", "--keys", "{keys}", "--checkpoint", "{tmp}/cp.json", "--resume"),
        keys="user-0\n", checkpoint_flags=("--keep-replication-attributes",),
        message="cp.json: was written by a copy with other flags: "
        "--keep-replication-attributes given then, not given now"),
    Row(id="checkpoint-missing", args=_keys("--checkpoint", "{tmp}/cp.json", "--resume"),
        keys="user-0\n", message="cp.json: does not exist, so there is nothing to resume"),
    # --- verify -----------------------------------------------------------------------------
    Row(id="verify-same-table", args=("verify", "--table", "users", "--keys", "{keys}"),
        keys="user-0\n", message="with itself: no --dest-* option was given"),
    Row(id="verify-rate-percent-on-demand", args=("verify", "--table", PROVISIONED,
        "--dest-table", "users", "--keys", "{keys}", "--rate", "40%"), keys="user-0\n",
        message="--rate '40%': the destination table 'users' is on-demand, so it has no "
        "provisioned capacity to take a share of"),
    # --- schema -----------------------------------------------------------------------------
    Row(id="schema-missing-table", args=("schema", "--table", "nope"),
        message="table 'nope' was not found in region us-east-1 (check --table"),
    Row(id="schema-bad-format", args=("schema", "--table", "users", "--format", "yaml"),
        message="Invalid value for '--format'"),
    Row(id="schema-bad-warm-throughput",
        args=("schema", "--table", "users", "--warm-throughput", "4000"),
        message="--warm-throughput '4000': expected READS,WRITES (two whole numbers)"),
    Row(id="schema-dry-run-without-create", args=("schema", "--table", "users", "--dry-run"),
        message="--dry-run goes with --create"),
    Row(id="schema-dest-without-create",
        args=("schema", "--table", "users", "--dest-profile", "ghost"),
        message="the --dest-* options go with --create"),
    Row(id="schema-dest-key-differs",
        args=("schema", "--table", "events", "--create", "--dest-table", "users"),
        message="the destination table 'users' already exists with the key userid (S, HASH), "
        "not the source's tenant (S, HASH), seq (N, RANGE)"),
    # --- consume ----------------------------------------------------------------------------
    Row(id="consume-missing-table", account=DEST_ACCOUNT,
        args=("consume", "--queue-url", "{queue}", "--table", "nope", "--until-empty"),
        message="cannot describe table 'nope': ResourceNotFoundException"),
    Row(id="consume-missing-queue", account=DEST_ACCOUNT,
        args=("consume", "--queue-url", "{queue}-nope", "--table", "users", "--until-empty"),
        message="-nope: AWS.SimpleQueueService.NonExistentQueue"),
    Row(id="consume-bad-mode", account=DEST_ACCOUNT,
        args=("consume", "--queue-url", "{queue}", "--table", "users", "--mode", "bogus"),
        message="--mode 'bogus': expected overwrite, skip-existing or newer-wins:<attribute> "
        "(e.g. --mode overwrite"),
    Row(id="consume-newer-wins-without-attribute", account=DEST_ACCOUNT,
        args=("consume", "--queue-url", "{queue}", "--table", "users", "--mode", "newer-wins"),
        message="--mode 'newer-wins': newer-wins needs the attribute to compare"),
    Row(id="consume-unknown-profile", account=DEST_ACCOUNT, profile_file=True,
        args=("consume", "--queue-url", "{queue}", "--table", "users", "--profile", "ghost"),
        message="the AWS profile 'ghost' was not found"),
    # --- status and dlq ---------------------------------------------------------------------
    Row(id="status-missing-queue", account=DEST_ACCOUNT,
        args=("status", "--queue-url", "{queue}-nope"),
        message="-nope: AWS.SimpleQueueService.NonExistentQueue"),
    Row(id="status-not-a-queue-url", account=DEST_ACCOUNT,
        args=("status", "--queue-url", "https://example.com/q"),
        message="--queue-url 'https://example.com/q' is not an SQS queue URL"),
    Row(id="dlq-without-queue-url", account=DEST_ACCOUNT, args=("dlq", "--table", "users"),
        message="`asynccopy dlq` needs --queue-url"),
    Row(id="dlq-keys-out-names-none", account=DEST_ACCOUNT,
        args=("dlq", "--queue-url", "{whole_dlq}", "--keys-out", "{tmp}/dead-keys.txt"),
        message="names its keys (1 were moved whole by the redrive policy)"),
    Row(id="dlq-missing-table", account=DEST_ACCOUNT,
        args=("dlq", "--queue-url", "{queue}", "--table", "nope"),
        message="table 'nope' was not found"),
    Row(id="dlq-not-a-dead-letter-queue", account=DEST_ACCOUNT,
        args=("dlq", "--queue-url", "{redriven_queue}", "--table", "users"),
        message="bad-input-redriven is not a dead-letter queue, it has a redrive policy: its "
        "dead-letter queue is"),
    Row(id="dlq-redrive-not-a-dead-letter-queue", account=DEST_ACCOUNT,
        args=("dlq", "redrive", "--queue-url", "{redriven_queue}"),
        message="bad-input-redriven is not a dead-letter queue, it has a redrive policy"),
    Row(id="dlq-redrive-to-not-a-queue-url", account=DEST_ACCOUNT,
        args=("dlq", "redrive", "--queue-url", "{queue}", "--to", "nope"),
        message="--to 'nope' is not an SQS queue URL"),
    # --- sandbox ----------------------------------------------------------------------------
    Row(id="seed-negative-items", args=("sandbox", "seed", "--items", "-1", "--port", "9"),
        message="Invalid value for '--items'"),
    Row(id="seed-foreign-items",
        args=("sandbox", "seed", "--items", "1", "--keys-out", "{tmp}/k.txt"),
        message="table 'users' in account 111111111111 holds 4 of 4 items the seed did not "
        "write"),
    Row(id="deploy-parameter-not-a-pair",
        args=("sandbox", "deploy-consumer", "--parameter", "MaxReceiveCount"),
        message="--parameter 'MaxReceiveCount' is not NAME=VALUE"),
    Row(id="deploy-parameter-of-the-sandbox",
        args=("sandbox", "deploy-consumer", "--parameter", "TableName=other"),
        message="--parameter TableName is set by the sandbox itself"),
)  # fmt: skip


@dataclass(frozen=True)
class World:
    queue_url: str
    other_queue_url: str
    tiny_queue_url: str
    fifo_queue_url: str


def make_world(sandbox: Sandbox) -> World:
    """Tables users (S), numbered (N), blobs (B), events (S+N, with a GSI and an LSI); four
    queues in the destination (one of them FIFO)."""
    ddb = sandbox.source("dynamodb")
    create_table(ddb, "users", ("userid", "S"))
    create_table(ddb, "numbered", ("id", "N"))
    create_table(ddb, "blobs", ("blob", "B"))
    ddb.create_table(
        TableName="events",
        KeySchema=[
            {"AttributeName": "tenant", "KeyType": "HASH"},
            {"AttributeName": "seq", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": n, "AttributeType": t}
            for n, t in (("tenant", "S"), ("seq", "N"), ("kind", "S"), ("at", "N"))
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "byKind",
                "KeySchema": [{"AttributeName": "kind", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "byTime",
                "KeySchema": [
                    {"AttributeName": "tenant", "KeyType": "HASH"},
                    {"AttributeName": "at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.create_table(
        TableName=PROVISIONED,
        KeySchema=[{"AttributeName": "userid", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "userid", "AttributeType": "S"}],
        ProvisionedThroughput={"ReadCapacityUnits": 10, "WriteCapacityUnits": 10},
    )
    for index in range(3):
        ddb.put_item(TableName="users", Item={"userid": {"S": f"user-{index}"}, "v": {"S": "x"}})
    ddb.put_item(TableName="users", Item={"userid": {"S": "user-big"}, "v": {"S": "y" * 3000}})
    create_table(sandbox.dest("dynamodb"), "users", ("userid", "S"))  # for `consume`
    sqs = sandbox.dest("sqs")
    urls = [sqs.create_queue(QueueName=name)["QueueUrl"] for name in (QUEUE, OTHER_QUEUE)]
    tiny = sqs.create_queue(QueueName=TINY_QUEUE, Attributes={"MaximumMessageSize": "1024"})
    dead = sqs.create_queue(QueueName=REDRIVEN_QUEUE + "-dlq")["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])
    policy = json.dumps(
        {"deadLetterTargetArn": dead_arn["Attributes"]["QueueArn"], "maxReceiveCount": "5"}
    )
    sqs.create_queue(QueueName=REDRIVEN_QUEUE, Attributes={"RedrivePolicy": policy})
    whole = sqs.create_queue(QueueName=WHOLE_DLQ)["QueueUrl"]
    sqs.send_message(QueueUrl=whole, MessageBody=encode_items([{"userid": {"S": "user-0"}}]))
    fifo = sqs.create_queue(QueueName=FIFO_QUEUE, Attributes={"FifoQueue": "true"})
    return World(
        queue_url=urls[0],
        other_queue_url=urls[1],
        tiny_queue_url=tiny["QueueUrl"],
        fifo_queue_url=fifo["QueueUrl"],
    )


def queue_is_empty(sandbox: Sandbox, queue_url: str) -> bool:
    reply = sandbox.dest("sqs").receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
    )
    return not reply.get("Messages")


def _fill(arg: str, *, world: World, tmp_path: Path) -> str:
    return (
        arg.replace("{queue}", world.queue_url)
        .replace("{fifo_queue}", world.fifo_queue_url)
        .replace("{other_queue}", world.other_queue_url)
        .replace("{redriven_queue}", world.queue_url.rsplit("/", 1)[0] + "/" + REDRIVEN_QUEUE)
        .replace("{whole_dlq}", world.queue_url.rsplit("/", 1)[0] + "/" + WHOLE_DLQ)
        .replace("{keys}", str(tmp_path / "keys.txt"))
        .replace("{tmp}", str(tmp_path))
    )


def run_row(
    sandbox: Sandbox, tmp_path: Path, row: Row, world: World
) -> subprocess.CompletedProcess[str]:
    if isinstance(row.keys, bytes):
        (tmp_path / "keys.txt").write_bytes(row.keys)
    elif row.keys is not None:
        (tmp_path / "keys.txt").write_text(row.keys, encoding="utf-8")
    if row.checkpoint is not None:
        (tmp_path / "cp.json").write_text(row.checkpoint, encoding="utf-8")
    if row.foreign_checkpoint:
        recorded = sandbox.run_cli(
            *("copy", "--table", "users", "--queue-url", world.other_queue_url),
            *("--keys", str(tmp_path / "keys.txt"), "--checkpoint", str(tmp_path / "cp.json")),
        )
        assert recorded.returncode == 0, recorded.stderr
    if row.checkpoint_flags is not None:
        recorded = sandbox.run_cli(
            *("copy", "--table", "users", "--queue-url", world.other_queue_url),
            *("--keys", str(tmp_path / "keys.txt"), "--checkpoint", str(tmp_path / "cp.json")),
            *row.checkpoint_flags,
        )
        assert recorded.returncode == 0, recorded.stderr
    env = sandbox.env(row.account)
    if row.profile_file:
        config = tmp_path / "aws-config"
        config.write_text("[profile someone-else]\nregion = us-east-1\n", encoding="utf-8")
        env["AWS_CONFIG_FILE"] = str(config)
    args = [_fill(arg, world=world, tmp_path=tmp_path) for arg in row.args]
    return sandbox.run_cli(*args, env=env, timeout_s=60)


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    stderr: str
    stdout: str


@pytest.fixture(scope="module")
def outcomes(
    sandbox_server: SandboxServer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Sandbox, World, dict[str, Outcome]]:
    """Every row run once, three at a time (each is a CLI start-up: mostly import time),
    against one world: a row sends nothing, which is what each test then checks."""
    sandbox_server.reset()
    sandbox = Sandbox(server=sandbox_server)  # not the `sandbox` fixture: it resets per test
    world = make_world(sandbox)

    # Made here, not in the threads: the factory creates its base directory lazily, and two
    # threads doing that at once disagree about which one it is.
    folders = {row.id: tmp_path_factory.mktemp(row.id) for row in ROWS}

    def run(row: Row) -> Outcome:
        done = run_row(sandbox, folders[row.id], row, world)
        return Outcome(exit_code=done.returncode, stderr=done.stderr, stdout=done.stdout)

    with ThreadPoolExecutor(max_workers=3) as pool:
        return sandbox, world, dict(zip((r.id for r in ROWS), pool.map(run, ROWS), strict=True))


@pytest.mark.parametrize("row", [pytest.param(row, id=row.id) for row in ROWS])
def test_bad_input_row(outcomes: tuple[Sandbox, World, dict[str, Outcome]], row: Row) -> None:
    sandbox, world, by_id = outcomes
    outcome = by_id[row.id]
    assert outcome.exit_code == row.exit_code, outcome.stderr
    assert row.message in outcome.stderr
    assert outcome.stdout == ""
    assert len(outcome.stderr.splitlines()) == 1, outcome.stderr
    assert outcome.stderr.startswith(ERROR_PREFIX)
    assert re.search(r"\S \(.+\)$", outcome.stderr.strip()), "no (how to fix) part"
    assert "Traceback" not in outcome.stderr
    if row.args[0] != "sandbox":  # the secret is "sandbox"; `asynccopy sandbox` names itself
        assert "sandbox" not in outcome.stderr.replace("/work", "")
    assert queue_is_empty(sandbox, world.queue_url)


@pytest.mark.parametrize("where", ["AWS_REGION", "profile"])
def test_a_missing_table_names_the_region_the_call_went_to(
    outcomes: tuple[Sandbox, World, dict[str, Outcome]], tmp_path: Path, where: str
) -> None:
    sandbox, world, _ = outcomes
    env = sandbox.env()
    args = ["copy", "--table", "nope", "--queue-url", world.queue_url, "--scan"]
    if where == "AWS_REGION":
        env.update(AWS_REGION="eu-west-2", AWS_DEFAULT_REGION="eu-west-2")
        region = "eu-west-2"
    else:
        region = "ap-southeast-2"
        for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID"):
            env.pop(name)
        (tmp_path / "config").write_text(f"[profile far]\nregion = {region}\n")
        (tmp_path / "credentials").write_text(
            f"[far]\naws_access_key_id = {SOURCE_ACCOUNT}\n"
            f"aws_secret_access_key = {env.pop('AWS_SECRET_ACCESS_KEY')}\n"
        )
        env["AWS_CONFIG_FILE"] = str(tmp_path / "config")
        env["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_path / "credentials")
        args += ["--profile", "far"]
    done = sandbox.run_cli(*args, env=env, timeout_s=60)
    assert done.returncode == 2, done.stderr
    assert f"table 'nope' was not found in region {region} (" in done.stderr


def test_an_item_too_large_for_the_queue_is_named_and_the_rest_copied(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    world = make_world(sandbox)
    keys = tmp_path / "keys.txt"
    keys.write_text("user-0\nuser-big\nuser-1\nuser-2\n", encoding="utf-8")
    failed_out = tmp_path / "failed.txt"
    done = sandbox.run_cli(
        *("copy", "--table", "users", "--queue-url", world.tiny_queue_url, "--keys", str(keys)),
        *("--failed-out", str(failed_out), "--checkpoint", str(tmp_path / "cp.json")),
        *("--json", "--no-progress"),
    )
    assert done.returncode == 1, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["items_sent"], summary["items_failed"]) == (3, 1)
    [shown] = summary["failed_keys_sample"]
    assert shown.startswith('{"userid":{"S":"user-big"}} (item_too_large: needs ')
    assert shown.endswith(" bytes, over the queue's 1,024)")
    assert summary["failed_by_reason"] == {"item_too_large": 1}
    assert failed_out.read_text(encoding="ascii") == '{"userid":{"S":"user-big"}}\n'
    assert stat.S_IMODE(failed_out.stat().st_mode) == 0o600
    received = [item["userid"]["S"] for item in received_items(sandbox, world.tiny_queue_url)]
    assert sorted(received) == ["user-0", "user-1", "user-2"]

    # The summary for people says what would help; --resume alone would fail the item again.
    done = sandbox.run_cli(
        *("copy", "--table", "users", "--queue-url", world.tiny_queue_url, "--keys", str(keys)),
        *("--checkpoint", str(tmp_path / "cp.json"), "--no-progress"),
    )
    assert done.returncode == 1, done.stderr
    advice = "1 item did not fit the queue's MaximumMessageSize (1,024 bytes): raise it"
    assert advice in done.stdout
    assert "then run the same command with --resume" in done.stdout
    assert "to continue" not in done.stdout


# --- denied access: ministack does not enforce IAM, so the mapping is tested on its own -------
class _Denied:
    async def describe_table(self, **_: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}},
            "DescribeTable",
        )

    async def get_queue_attributes(self, **_: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, "GetQueueAttributes"
        )


def test_denied_describe_table_is_one_line_of_bad_input() -> None:
    with pytest.raises(InputError) as caught:
        anyio.run(lambda: describe_table(_Denied(), table="users", region=None))
    assert caught.value.exit_code == 2
    assert str(caught.value).startswith("cannot describe table 'users': AccessDeniedException")
    assert "\n" not in str(caught.value)


class _FifoByAttribute:
    async def get_queue_attributes(self, **request: Any) -> Any:
        assert "FifoQueue" in request["AttributeNames"]
        return {"Attributes": {"MaximumMessageSize": "262144", "FifoQueue": "true"}}


def test_a_queue_whose_fifo_attribute_is_true_is_refused() -> None:
    """The name check finds every FIFO queue SQS makes (their names must end in .fifo); the
    attribute is checked too, for a URL that hides it (an alias, an emulator)."""
    with pytest.raises(FifoQueueError) as caught:
        anyio.run(lambda: queue_max_message_bytes(_FifoByAttribute(), queue_url="https://q"))
    assert caught.value.exit_code == 2
    assert str(caught.value).startswith("queue https://q is a FIFO queue")
    assert "\n" not in str(caught.value)


def test_denied_queue_attributes_fall_back_to_256_kib() -> None:
    size = anyio.run(lambda: queue_max_message_bytes(_Denied(), queue_url="https://q"))
    assert size == DEFAULT_MAX_MESSAGE_BYTES


# --- the document -----------------------------------------------------------------------------
def _doc_rows() -> dict[str, tuple[str, str]]:
    """id -> (message, exit code) from the table rows `| id | input | message | exit |`."""
    rows: dict[str, tuple[str, str]] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if len(cells) == 4 and re.fullmatch(r"[a-z0-9-]+", cells[0]):
            rows[cells[0]] = (cells[2].replace("\\|", "|"), cells[3])
    return rows


def test_the_document_lists_every_row_with_its_message_and_exit_code() -> None:
    documented = _doc_rows()
    for row in ROWS:
        assert row.id in documented, f"docs/bad-input.md has no row {row.id}"
        message, exit_code = documented[row.id]
        assert row.message in message, row.id
        assert exit_code == str(row.exit_code), row.id
