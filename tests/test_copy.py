"""`asynccopy copy` driven as a user runs it, against the real sandbox server."""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from asynccopy.sandbox.seed import QUEUE_NAME
from asynccopy.verify.compare import items_equal
from consumer.wire import Item, decode_body
from tests.consumer_helpers import queue_counts, receive_bodies, received_items, seed_users
from tests.sandbox_helpers import Sandbox, create_table, hard_items

TABLE = "users"
ENGINES = ("fast", "botocore")


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each copy test runs on both engines: `--engine` read from ASYNCCOPY_ENGINE."""
    name: str = request.param
    monkeypatch.setenv("ASYNCCOPY_ENGINE", name)
    return name


def scan_source(sandbox: Sandbox, table: str = TABLE) -> dict[str, Item]:
    items: dict[str, Item] = {}
    for page in sandbox.source("dynamodb").get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            items[json.dumps(_key(item), sort_keys=True)] = item
    return items


def _key(item: Item, names: tuple[str, ...] = ("userid",)) -> dict[str, Any]:
    return {name: item[name] for name in names}


def assert_copied(
    received: list[Item],
    expected: dict[str, Item],
    names: tuple[str, ...] = ("userid",),
) -> None:
    by_key = {json.dumps(_key(item, names), sort_keys=True): item for item in received}
    assert len(by_key) == len(received), "an item arrived twice"
    assert by_key.keys() == expected.keys()
    different = [key for key, item in expected.items() if not items_equal(by_key[key], item)]
    assert different == []


def run_copy(
    sandbox: Sandbox, *args: str, stdin: str | None = None
) -> tuple[int, dict[str, Any], str]:
    return sandbox.run_json("copy", "--table", TABLE, *args, "--json", stdin=stdin)


@pytest.mark.usefixtures("engine")
def test_key_file_copy_delivers_every_item_identical(sandbox: Sandbox, tmp_path: Path) -> None:
    keys, queue_url = seed_users(sandbox, tmp_path, items=2_000)
    code, summary, stderr = run_copy(
        sandbox, "--keys", str(keys), "--queue-url", queue_url, "--rate", "max"
    )
    assert code == 0, stderr
    assert summary["items_selected"] == summary["items_read"] == summary["items_sent"] == 2_000
    assert summary["items_missing"] == summary["items_failed"] == 0
    assert summary["dry_run"] is False
    assert summary["messages_sent"] == 80  # 25 items per message
    assert summary["batches_sent"] == 8
    assert_copied(received_items(sandbox, queue_url), scan_source(sandbox))
    assert "AWS_SECRET" not in stderr
    assert "sandbox" not in summary.values()


@pytest.mark.usefixtures("engine")
def test_scan_with_four_segments_delivers_every_item(sandbox: Sandbox, tmp_path: Path) -> None:
    _, queue_url = seed_users(sandbox, tmp_path, items=2_000)
    code, summary, stderr = run_copy(
        sandbox, "--scan", "--segments", "4", "--queue-url", queue_url, "--rate", "max"
    )
    assert code == 0, stderr
    assert summary["items_sent"] == summary["items_read"] == 2_000
    assert_copied(received_items(sandbox, queue_url), scan_source(sandbox))


@pytest.mark.usefixtures("engine")
def test_one_segment_of_several_copies_a_share(sandbox: Sandbox, tmp_path: Path) -> None:
    _, queue_url = seed_users(sandbox, tmp_path, items=400)
    sent = 0
    for index in range(2):
        code, summary, stderr = run_copy(
            sandbox, "--scan", "--segment", f"{index}/2", "--queue-url", queue_url, "--rate", "max"
        )
        assert code == 0, stderr
        sent += summary["items_sent"]
        # What this run selected, not a share of the table's estimate: the run read it all.
        assert summary["items_selected"] == summary["items_read"] == summary["items_sent"]
        assert summary["items_selected_exact"] is True
    assert sent == 400
    assert_copied(received_items(sandbox, queue_url), scan_source(sandbox))


def _composite_table(sandbox: Sandbox) -> dict[str, Item]:
    ddb = sandbox.source("dynamodb")
    create_table(ddb, "events", ("tenant", "S"), ("seq", "N"))
    expected: dict[str, Item] = {}
    for tenant in ("t1", "t2", "t3"):
        for seq in range(120):
            item: Item = {
                "tenant": {"S": tenant},
                "seq": {"N": str(seq)},
                "payload": {"B": bytes([seq % 256]) * 40},
                "price": {"N": f"{seq}.{seq:02d}"},
                "tags": {"SS": ["a", f"s{seq}"]},
            }
            ddb.put_item(TableName="events", Item=item)
            if tenant == "t2" and seq >= 10:
                expected[json.dumps(_key(item, ("tenant", "seq")), sort_keys=True)] = item
    return expected


@pytest.mark.usefixtures("engine")
def test_query_on_a_composite_key_delivers_the_selected_items(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    _, queue_url = seed_users(sandbox, tmp_path, items=10)
    expected = _composite_table(sandbox)
    done = sandbox.run_cli(
        "copy",
        "--table",
        "events",
        "--query",
        "tenant = :t AND #s >= :from",
        "--values",
        '{":t": "t2", ":from": {"N": "10"}}',
        "--names",
        '{"#s": "seq"}',
        "--queue-url",
        queue_url,
        "--rate",
        "max",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["items_sent"] == 110
    assert (summary["items_selected"], summary["items_selected_exact"]) == (110, True)
    assert_copied(received_items(sandbox, queue_url), expected, ("tenant", "seq"))


@pytest.mark.usefixtures("engine")
def test_composite_key_lines_from_stdin(sandbox: Sandbox, tmp_path: Path) -> None:
    _, queue_url = seed_users(sandbox, tmp_path, items=10)
    _composite_table(sandbox)
    lines = [
        '{"tenant": "t1", "seq": 5}',
        '{"tenant": {"S": "t3"}, "seq": {"N": "7"}}',
        '{"tenant": "t3", "seq": 7.0}',  # the same key again
        "# a comment",
        "",
        '{"tenant": "t9", "seq": 1}',  # not in the table
    ]
    done = sandbox.run_cli(
        "copy", "--table", "events", "--keys", "-", "--queue-url", queue_url,
        "--rate", "max", "--json", stdin="\n".join(lines) + "\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["items_selected"] == 3
    assert summary["items_sent"] == 2
    assert summary["items_missing"] == 1
    assert summary["missing_keys_sample"] == ['{"seq":{"N":"1"},"tenant":{"S":"t9"}}']
    received = received_items(sandbox, queue_url)
    assert sorted((i["tenant"]["S"], i["seq"]["N"]) for i in received) == [("t1", "5"), ("t3", "7")]


@pytest.mark.usefixtures("engine")
def test_rate_limit_is_kept(sandbox: Sandbox, tmp_path: Path) -> None:
    # 2,000 items of about 1 KB: BatchGetItem rounds each up to 4 KB, 0.5 RCU eventually
    # consistent, so 1,000 RCU at 100 RCU/s take about 10 s.
    keys, queue_url = seed_users(sandbox, tmp_path, items=2_000)
    code, summary, stderr = run_copy(
        sandbox, "--keys", str(keys), "--queue-url", queue_url, "--rate", "100"
    )
    assert code == 0, stderr
    assert summary["items_sent"] == 2_000
    assert summary["rcu_consumed"] == pytest.approx(1_000, rel=0.01)
    assert summary["rcu_per_s"] == pytest.approx(100, rel=0.05)
    assert summary["elapsed_s"] == pytest.approx(10, rel=0.05)
    assert summary["rate_target"] == 100


@pytest.mark.usefixtures("engine")
def test_dry_run_plans_and_sends_nothing(sandbox: Sandbox, tmp_path: Path) -> None:
    keys, queue_url = seed_users(sandbox, tmp_path, items=500)
    code, summary, stderr = run_copy(
        sandbox, "--keys", str(keys), "--queue-url", queue_url, "--rate", "50", "--dry-run"
    )
    assert code == 0, stderr
    assert summary["dry_run"] is True
    assert summary["items_selected"] == 500
    assert summary["items_sent"] == 0
    assert summary["messages_sent"] == 0
    assert summary["items_read"] == 3
    assert len(summary["sample_items"]) == 3
    assert summary["estimated_rcu"] == pytest.approx(250)  # 500 x 0.5
    assert summary["estimated_seconds"] == pytest.approx(5)
    assert summary["estimated_messages"] >= 20
    assert queue_counts(sandbox, queue_url) == (0, 0)

    text = sandbox.run_cli(
        "copy", "--table", TABLE, "--scan", "--queue-url", queue_url, "--dry-run", "--sample", "1"
    )
    assert text.returncode == 0, text.stderr
    assert "dry run: nothing was sent" in text.stdout
    assert "estimated RCU" in text.stdout
    assert queue_counts(sandbox, queue_url) == (0, 0)


@pytest.mark.usefixtures("engine")
def test_failed_out_gets_the_keys_a_queue_rejects(sandbox: Sandbox, tmp_path: Path) -> None:
    keys, _ = seed_users(sandbox, tmp_path, items=60)
    # A queue whose messages must be tiny: every item is too large for a message.
    small = sandbox.dest("sqs").create_queue(
        QueueName="tiny", Attributes={"MaximumMessageSize": "1024"}
    )["QueueUrl"]
    _allow_source(sandbox, small)
    failed = tmp_path / "failed.txt"
    code, summary, stderr = run_copy(
        sandbox, "--keys", str(keys), "--queue-url", small, "--rate", "max",
        "--failed-out", str(failed),
    )  # fmt: skip
    assert code == 1, stderr
    assert summary["items_failed"] == 60
    assert summary["items_sent"] == 0
    assert stat.S_IMODE(os.stat(failed).st_mode) == 0o600
    lines = failed.read_text().splitlines()
    assert len(lines) == 60
    assert json.loads(lines[0]) == {"userid": {"S": "user-0000000"}}
    assert "item_too_large" in summary["failed_keys_sample"][0]


def _allow_source(sandbox: Sandbox, queue_url: str) -> None:
    sqs = sandbox.dest("sqs")
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
                "Action": ["sqs:SendMessage", "sqs:GetQueueAttributes"],
                "Resource": arn,
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})


# -- bad input: exit 2, one clear line, nothing sent ------------------------------------------

BAD_KEY_FILES = [
    ("user-0000001\n{not json\n", "line 2: not valid JSON"),
    ('user-0000001\n\n# c\n{"userid": 5}\n', "line 4: key attribute 'userid' must be of type S"),
    ('{"other": "x"}\n', "line 1: 'other' is not a key attribute"),
    ("{}\n", "line 1: the key attribute 'userid' is missing"),
]


@pytest.mark.parametrize(("content", "message"), BAD_KEY_FILES)
def test_bad_key_lines_are_refused_before_sending(
    sandbox: Sandbox, tmp_path: Path, content: str, message: str
) -> None:
    keys, queue_url = seed_users(sandbox, tmp_path, items=30)
    # Good keys first: validation must read the whole file before anything is sent.
    keys.write_text(keys.read_text() + content)
    offset = 30
    code, summary, stderr = run_copy(
        sandbox, "--keys", str(keys), "--queue-url", queue_url, "--rate", "max"
    )
    assert code == 2
    assert summary == {}
    line_no = int(message.split(":")[0].split()[1]) + offset
    expected = message.replace(message.split(":")[0], f"line {line_no}")
    assert expected in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert queue_counts(sandbox, queue_url) == (0, 0)


# The other bad flags are rows of test_bad_input.py; there the profile is missing from a config
# file, here there is no config file at all.
def test_bad_configuration_exits_2_and_sends_nothing(sandbox: Sandbox, tmp_path: Path) -> None:
    keys, queue_url = seed_users(sandbox, tmp_path, items=30)
    done = sandbox.run_cli(
        *("copy", "--keys", str(keys), "--queue-url", queue_url, "--table", TABLE),
        *("--profile", "nobody-has-this", "--json"),
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert "profile 'nobody-has-this' was not found" in done.stderr
    assert done.stderr.startswith("asynccopy: error: ")
    assert "sandbox" not in done.stderr.replace("/work", "")  # the secret is "sandbox"
    assert queue_counts(sandbox, queue_url) == (0, 0)
    assert QUEUE_NAME in queue_url


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.usefixtures("engine")
def test_ten_thousand_items(sandbox: Sandbox, tmp_path: Path) -> None:
    keys, queue_url = seed_users(sandbox, tmp_path, items=10_000)
    code, summary, stderr = run_copy(
        sandbox, "--keys", str(keys), "--queue-url", queue_url, "--rate", "max"
    )
    assert code == 0, stderr
    assert summary["items_sent"] == 10_000
    assert summary["messages_sent"] == 400
    assert_copied(received_items(sandbox, queue_url), scan_source(sandbox))


@pytest.mark.usefixtures("engine")
def test_ctrl_c_stops_reading_sends_what_was_read_and_exits_130(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    keys, queue_url = seed_users(sandbox, tmp_path, items=1_000)
    with sandbox.start_cli(
        *("copy", "--table", TABLE, "--keys", str(keys), "--queue-url", queue_url),
        *("--rate", "50", "--json"),  # about 10 s in all
    ) as process:
        time.sleep(3)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    summary = json.loads(stdout)
    assert summary["interrupted"] is True
    assert 0 < summary["items_sent"] < 1_000
    assert summary["items_sent"] == summary["items_read"]
    assert "interrupted" in stderr
    assert len(received_items(sandbox, queue_url)) == summary["items_sent"]


# -- hard values, both engines, byte for byte --------------------------------------------------
def _hard_table(sandbox: Sandbox) -> list[Item]:
    ddb = sandbox.source("dynamodb")
    create_table(ddb, "hard", ("pk", "S"), ("sk", "B"))
    hard = hard_items()
    for item in hard:
        ddb.put_item(TableName="hard", Item=item)
    return hard


def _hard_key(item: Item) -> str:
    return json.dumps(_key(item, ("pk", "sk")), sort_keys=True, default=repr)


def test_hard_values_copy_byte_identically_on_both_engines(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    _, queue_url = seed_users(sandbox, tmp_path, items=10)
    hard = _hard_table(sandbox)
    source = {_hard_key(i): i for i in hard}
    stored = sandbox.source("dynamodb").scan(TableName="hard")["Items"]
    assert len(stored) == len(hard)
    keys = tmp_path / "hard-keys.txt"
    lines = [
        json.dumps({"pk": i["pk"]["S"], "sk": base64.b64encode(i["sk"]["B"]).decode()})
        for i in hard
    ]
    keys.write_text("\n".join([*lines, '{"pk": "absent", "sk": "AQ=="}']) + "\n")
    bodies: dict[str, list[str]] = {}
    for engine in ENGINES:
        for selection in (["--keys", str(keys)], ["--scan", "--segments", "2"]):
            done = sandbox.run_cli(
                "copy", "--table", "hard", *selection, "--queue-url", queue_url,
                "--rate", "max", "--concurrency", "1", "--engine", engine, "--json",
                "--no-checkpoint",
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            summary = json.loads(done.stdout)
            assert summary["items_sent"] == len(hard)
            assert summary["items_failed"] == 0
            if selection[0] == "--keys":
                assert summary["items_missing"] == 1
                assert summary["missing_keys_sample"] == ['{"pk":{"S":"absent"},"sk":{"B":"AQ=="}}']
            received = receive_bodies(sandbox, queue_url)
            items = [item for body in received for item in decode_body(body)]
            by_key = {_hard_key(i): i for i in items}
            assert by_key.keys() == source.keys()
            assert all(items_equal(by_key[k], v) for k, v in source.items())
            # Exactly what DynamoDB returns (it may reorder sets and rewrite numbers).
            assert all(by_key[_hard_key(v)] == v for v in stored)
            assert all(body.isascii() for body in received)
            bodies[f"{engine} {selection[0]}"] = sorted(received)
    assert bodies["fast --keys"] == bodies["botocore --keys"]
    assert bodies["fast --scan"] == bodies["botocore --scan"]


def test_the_engine_flag_is_checked(sandbox: Sandbox, tmp_path: Path) -> None:
    keys, queue_url = seed_users(sandbox, tmp_path, items=1)
    done = sandbox.run_cli(
        "copy", "--table", TABLE, "--keys", str(keys), "--queue-url", queue_url,
        "--engine", "turbo",
    )  # fmt: skip
    assert done.returncode == 2
    assert "--engine" in done.stderr


def test_a_256_kib_queue_gets_batches_of_up_to_1_mib(sandbox: Sandbox, tmp_path: Path) -> None:
    # SendMessageBatch's total is capped at 1 MiB whatever MaximumMessageSize says: the queue
    # caps each message at 256 KiB, not the batch.
    _, queue_url = seed_users(sandbox, tmp_path, items=1)
    sandbox.dest("sqs").set_queue_attributes(
        QueueUrl=queue_url, Attributes={"MaximumMessageSize": "262144"}
    )
    ddb = sandbox.source("dynamodb")
    create_table(ddb, "blobs", ("pk", "S"))
    rng = random.Random(15)
    for index in range(24):
        ddb.put_item(
            TableName="blobs", Item={"pk": {"S": f"b{index}"}, "v": {"B": rng.randbytes(60_000)}}
        )
    done = sandbox.run_cli(
        "copy", "--table", "blobs", "--scan", "--queue-url", queue_url,
        "--rate", "max", "--json", "--no-checkpoint",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["items_sent"] == 24
    assert summary["batches_sent"] < summary["messages_sent"]
    # Every message is at most 256 KiB; batches of them are more.
    assert summary["bytes_sent"] / summary["messages_sent"] <= 262_144
    assert summary["bytes_sent"] / summary["batches_sent"] > 262_144
    assert len(received_items(sandbox, queue_url)) == 24
