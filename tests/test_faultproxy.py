"""The fault-injection proxy against the real sandbox: pass-through, capacity, every fault kind."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError

from asynccopy.read.itemsize import item_size_bytes
from asynccopy.sandbox import REGION, SANDBOX_SECRET
from benchmarks.faultproxy import (
    COUNTERS,
    FaultConfig,
    FaultProxy,
    TokenBucket,
    build_parser,
    config_from_args,
    wire_item_size_bytes,
)
from tests.sandbox_helpers import (
    DEST_ACCOUNT,
    SOURCE_ACCOUNT,
    Sandbox,
    clean_env,
    create_table,
    free_port,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TABLE = "faults"
# One attempt, no retries: every injected fault reaches the test as it was answered.
PTEE = "ProvisionedThroughputExceededException"
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})


def _client(service: str, endpoint_url: str, account: str = SOURCE_ACCOUNT) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id=account,
        aws_secret_access_key=SANDBOX_SECRET,
        config=NO_RETRIES,
    )


def _create_table(ddb: Any, name: str = TABLE) -> None:
    create_table(ddb, name, ("pk", "S"))


def _key(index: int) -> dict[str, Any]:
    return {"pk": {"S": f"k{index:03d}"}}


def _item(index: int, *, pad_bytes: int = 0) -> dict[str, Any]:
    return {**_key(index), "val": {"N": str(index)}, "pad": {"S": "x" * pad_bytes}}


def _seed_items(ddb: Any, count: int, *, pad_bytes: int = 0) -> None:
    for index in range(count):
        ddb.put_item(TableName=TABLE, Item=_item(index, pad_bytes=pad_bytes))


def _all_keys(ddb: Any) -> set[str]:
    return {item["pk"]["S"] for item in ddb.scan(TableName=TABLE, ConsistentRead=True)["Items"]}


def _error_code(error: ClientError) -> str:
    return str(error.response["Error"]["Code"])


def _status(error: ClientError) -> int:
    return int(error.response["ResponseMetadata"]["HTTPStatusCode"])


@pytest.fixture
def proxy(sandbox: Sandbox) -> Iterator[FaultProxy]:
    with FaultProxy(sandbox.endpoint_url, FaultConfig(seed=7)) as running:
        yield running


# ---- pure parts ------------------------------------------------------------------------------
def test_token_bucket_refills_up_to_its_burst_and_refuses_while_in_debt() -> None:
    now = [0.0]
    bucket = TokenBucket(rate_per_s=100.0, burst_s=1.0, clock=lambda: now[0])
    assert bucket.tokens == 100.0
    bucket.charge(130.0)  # charged after the fact: may go into debt
    assert bucket.exhausted()
    now[0] = 0.2
    assert bucket.tokens == pytest.approx(-10.0)
    assert bucket.exhausted()
    now[0] = 0.35
    assert not bucket.exhausted()
    now[0] = 60.0
    assert bucket.tokens == 100.0  # never more than burst_s of capacity
    bucket.reconfigure(rate_per_s=10.0, burst_s=2.0)
    assert bucket.tokens == 20.0


def test_wire_item_size_measures_base64_binary_as_raw_bytes() -> None:
    raw: dict[str, dict[str, Any]] = {
        "pk": {"S": "a"},
        "b": {"B": b"\x00\xff" * 10},
        "l": {"L": [{"BS": [b"xyz"]}]},
    }
    b64 = base64.b64encode(b"\x00\xff" * 10).decode()
    wire = {"pk": {"S": "a"}, "b": {"B": b64}, "l": {"L": [{"BS": ["eHl6"]}]}}
    assert wire_item_size_bytes(wire) == item_size_bytes(raw)


def test_config_validates_and_cli_flags_build_it() -> None:
    with pytest.raises(ValueError, match="throttle_rate"):
        FaultConfig(throttle_rate=1.5)
    with pytest.raises(ValueError, match="must not exceed 1"):
        FaultConfig(send_batch_fail_share=0.7, send_batch_sender_fault_share=0.7)
    args = build_parser().parse_args(
        [
            "--upstream",
            "http://127.0.0.1:1",
            "--seed",
            "3",
            "--throttle-rate",
            "0.25",
            "--fault-accounts",
            f"{SOURCE_ACCOUNT},{DEST_ACCOUNT}",
            "--fault-targets",
            "BatchWriteItem",
            "--table-read-capacity-rcu-per-s",
            f"{SOURCE_ACCOUNT}/{TABLE}=100",
            "--measure-capacity",
        ]
    )
    config = config_from_args(args)
    assert config == FaultConfig(
        seed=3,
        throttle_rate=0.25,
        fault_accounts=frozenset({SOURCE_ACCOUNT, DEST_ACCOUNT}),
        fault_targets=frozenset({"BatchWriteItem"}),
        table_read_capacity_rcu_per_s={f"{SOURCE_ACCOUNT}/{TABLE}": 100.0},
        measure_capacity=True,
    )
    assert config.capacity_per_s("read", SOURCE_ACCOUNT, TABLE) == 100.0
    assert config.capacity_per_s("read", DEST_ACCOUNT, TABLE) is None


# ---- pass-through ----------------------------------------------------------------------------
def test_without_faults_dynamodb_and_sqs_work_as_direct(
    sandbox: Sandbox, proxy: FaultProxy
) -> None:
    via = _client("dynamodb", proxy.url)
    direct = sandbox.source("dynamodb")
    _create_table(via)
    item = {
        "pk": {"S": "ü-1"},
        "blob": {"B": bytes(range(256)) * 40},
        "set": {"BS": [b"\x00", b"\xff\xfe"]},
        "num": {"N": "-1234567890.1234567890123456789012345678"},
        "doc": {"M": {"l": {"L": [{"NULL": True}, {"BOOL": False}, {"S": "\u2603"}]}}},
    }
    via.put_item(TableName=TABLE, Item=item)
    assert via.get_item(TableName=TABLE, Key={"pk": item["pk"]})["Item"] == item
    assert direct.get_item(TableName=TABLE, Key={"pk": item["pk"]})["Item"] == item
    got = via.batch_get_item(RequestItems={TABLE: {"Keys": [{"pk": item["pk"]}]}})
    assert got["Responses"][TABLE] == [item]
    assert via.scan(TableName=TABLE)["Items"] == direct.scan(TableName=TABLE)["Items"]

    sqs_via = _client("sqs", proxy.url, DEST_ACCOUNT)
    queue_url = sqs_via.create_queue(QueueName="faultproxy-pass")["QueueUrl"]
    body = json.dumps({"k": "\u2603" * 100})
    sqs_via.send_message(QueueUrl=queue_url, MessageBody=body)
    sent = sqs_via.send_message_batch(
        QueueUrl=queue_url, Entries=[{"Id": f"e{i}", "MessageBody": f"m{i}"} for i in range(3)]
    )
    assert len(sent["Successful"]) == 3
    assert not sent.get("Failed")
    bodies: list[str] = []
    for _ in range(5):
        received = sqs_via.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        )
        bodies += [m["Body"] for m in received.get("Messages", [])]
        if len(bodies) == 4:
            break
    assert sorted(bodies) == sorted([body, "m0", "m1", "m2"])

    counters = proxy.stats().counters
    assert set(counters) == set(COUNTERS)
    assert counters["forwarded"] == counters["requests"] > 0
    assert sum(v for k, v in counters.items() if k not in ("requests", "forwarded")) == 0


# ---- capacity --------------------------------------------------------------------------------
def test_read_capacity_is_enforced_at_the_provisioned_rate(
    sandbox: Sandbox, proxy: FaultProxy
) -> None:
    _create_table(sandbox.source("dynamodb"))
    _seed_items(sandbox.source("dynamodb"), 10, pad_bytes=100)
    proxy.configure(table_read_capacity_rcu_per_s={TABLE: 100.0})
    via = _client("dynamodb", proxy.url)
    keys = [_key(i) for i in range(10)]

    def read(step: int) -> float:
        """One strongly consistent read: 10 RCU (BatchGetItem) or 1 RCU (GetItem)."""
        if step % 2:
            got = via.get_item(
                TableName=TABLE, Key=keys[0], ConsistentRead=True, ReturnConsumedCapacity="TOTAL"
            )
            return float(got["ConsumedCapacity"]["CapacityUnits"])
        batch = via.batch_get_item(
            RequestItems={TABLE: {"Keys": keys, "ConsistentRead": True}},
            ReturnConsumedCapacity="TOTAL",
        )
        assert len(batch["Responses"][TABLE]) == 10
        return float(batch["ConsumedCapacity"][0]["CapacityUnits"])

    def attempt(step: int) -> float | None:
        """The units read, or None when refused for capacity."""
        try:
            return read(step)
        except ClientError as error:
            if (_status(error), _error_code(error)) != (400, PTEE):
                raise
            return None

    # Drain the 1 s burst until the first refusal.
    deadline = time.monotonic() + 5.0
    while attempt(0) is not None:
        assert time.monotonic() < deadline, "never refused"

    key = f"{SOURCE_ACCOUNT}/{TABLE}"
    before = proxy.stats().consumed_rcu[key]
    started = time.monotonic()
    accepted, refused, step = 0.0, 0, 0
    while time.monotonic() - started < 3.0:
        step += 1
        units = attempt(step)
        if units is None:
            refused += 1
            time.sleep(0.002)
        else:
            accepted += units
    elapsed = time.monotonic() - started
    charged = proxy.stats().consumed_rcu[key] - before
    assert charged == pytest.approx(accepted)  # the client saw what the proxy charged
    assert charged == pytest.approx(100.0 * elapsed, rel=0.10)
    assert refused > 0
    assert proxy.stats().counters["capacity_exceeded"] == refused + 1


def test_capacity_per_table_hands_back_a_throttled_tables_keys_and_refuses_writes(
    sandbox: Sandbox, proxy: FaultProxy
) -> None:
    direct = sandbox.source("dynamodb")
    _create_table(direct)
    _create_table(direct, "other")
    direct.put_item(TableName=TABLE, Item=_item(0))
    direct.put_item(TableName="other", Item=_item(0))
    proxy.configure(
        table_read_capacity_rcu_per_s={TABLE: 0.0},  # no reads at all
        write_capacity_wcu_per_s=5.0,  # every table: 5 WCU/s, 5 WCU of burst
    )
    via = _client("dynamodb", proxy.url)

    got = via.batch_get_item(
        RequestItems={TABLE: {"Keys": [_key(0)]}, "other": {"Keys": [_key(0)]}}
    )
    assert got["Responses"] == {"other": [_item(0)]}
    assert got["UnprocessedKeys"] == {TABLE: {"Keys": [_key(0)]}}

    for index in (1, 2):  # 3 WCU each: the second takes the bucket into debt
        via.put_item(TableName=TABLE, Item=_item(index, pad_bytes=2500))
    with pytest.raises(ClientError) as caught:
        via.put_item(TableName=TABLE, Item=_item(3))
    assert _error_code(caught.value) == PTEE
    assert proxy.stats().consumed_wcu == {f"{SOURCE_ACCOUNT}/{TABLE}": 6.0}
    assert _all_keys(direct) == {"k000", "k001", "k002"}


def test_consumed_capacity_is_added_to_batch_get_item(sandbox: Sandbox, proxy: FaultProxy) -> None:
    direct = sandbox.source("dynamodb")
    _create_table(direct)
    direct.put_item(TableName=TABLE, Item=_item(0, pad_bytes=5000))  # 2 x 4 KB
    direct.put_item(TableName=TABLE, Item=_item(1))  # 1 x 4 KB
    via = _client("dynamodb", proxy.url)
    keys = [_key(0), _key(1), _key(2)]  # k002 is missing: the minimum is still charged

    eventual = via.batch_get_item(
        RequestItems={TABLE: {"Keys": keys}}, ReturnConsumedCapacity="TOTAL"
    )
    assert eventual["ConsumedCapacity"] == [
        {"TableName": TABLE, "CapacityUnits": 2.0, "ReadCapacityUnits": 2.0}
    ]
    strong = via.batch_get_item(
        RequestItems={TABLE: {"Keys": keys, "ConsistentRead": True}},
        ReturnConsumedCapacity="INDEXES",
    )
    assert strong["ConsumedCapacity"] == [
        {
            "TableName": TABLE,
            "CapacityUnits": 4.0,
            "ReadCapacityUnits": 4.0,
            "Table": {"CapacityUnits": 4.0},
        }
    ]
    assert len(strong["Responses"][TABLE]) == 2
    plain = via.batch_get_item(RequestItems={TABLE: {"Keys": keys}})
    assert "ConsumedCapacity" not in plain
    assert proxy.stats().counters["consumed_capacity_added"] == 2


# ---- injected faults -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ("throttle_rate", 400, "ThrottlingException"),
        ("error_500_rate", 500, "InternalServerError"),
        ("error_503_rate", 503, "ServiceUnavailable"),
    ],
)
def test_error_answers_reach_the_client(
    sandbox: Sandbox, proxy: FaultProxy, change: str, status: int, code: str
) -> None:
    _create_table(sandbox.source("dynamodb"))
    _seed_items(sandbox.source("dynamodb"), 1)
    proxy.configure(**{change: 1.0})
    via = _client("dynamodb", proxy.url)
    with pytest.raises(ClientError) as caught:
        via.get_item(TableName=TABLE, Key=_key(0))
    assert (_status(caught.value), _error_code(caught.value)) == (status, code)
    if change == "throttle_rate":
        sqs = _client("sqs", proxy.url, DEST_ACCOUNT)
        with pytest.raises(ClientError) as caught:
            sqs.list_queues()
        assert _error_code(caught.value) == "ThrottlingException"


def test_dropped_connections_before_and_after_forwarding(
    sandbox: Sandbox, proxy: FaultProxy
) -> None:
    direct = sandbox.source("dynamodb")
    _create_table(direct)
    via = _client("dynamodb", proxy.url)
    proxy.configure(drop_request_rate=1.0)
    with pytest.raises(ConnectionClosedError):
        via.put_item(TableName=TABLE, Item=_item(0))
    proxy.configure(drop_request_rate=0.0, drop_response_rate=1.0)
    with pytest.raises(ConnectionClosedError):
        via.put_item(TableName=TABLE, Item=_item(1))
    # Dropped before forwarding: not written; dropped after: written, answer lost.
    assert _all_keys(direct) == {"k001"}
    counters = proxy.stats().counters
    assert (counters["dropped_requests"], counters["dropped_responses"]) == (1, 1)


def test_latency_is_added(sandbox: Sandbox, proxy: FaultProxy) -> None:
    proxy.configure(latency_ms=150.0, latency_jitter_ms=50.0)
    via = _client("dynamodb", proxy.url)
    started = time.monotonic()
    via.list_tables()
    assert time.monotonic() - started >= 0.15
    assert proxy.stats().counters["delayed"] == 1


def _trimmed_batch_get(via: Any, keys: list[dict[str, Any]]) -> dict[str, Any]:
    response: dict[str, Any] = via.batch_get_item(
        RequestItems={
            TABLE: {
                "Keys": keys,
                "ConsistentRead": True,
                "ProjectionExpression": "#p, val",
                "ExpressionAttributeNames": {"#p": "pk"},
            }
        }
    )
    return response


def test_batch_get_item_is_trimmed_into_unprocessed_keys(
    sandbox: Sandbox, proxy: FaultProxy
) -> None:
    _create_table(sandbox.source("dynamodb"))
    _seed_items(sandbox.source("dynamodb"), 10)
    proxy.configure(batch_trim_rate=1.0, batch_keep_share=0.3)
    via = _client("dynamodb", proxy.url)
    keys = [_key(i) for i in range(10)]

    got = _trimmed_batch_get(via, keys)
    items = got["Responses"][TABLE]
    unprocessed = got["UnprocessedKeys"][TABLE]
    assert len(items) == 3
    for item in items:  # the kept keys' items, projected as asked
        assert item == {"pk": item["pk"], "val": {"N": str(int(item["pk"]["S"][1:]))}}
    assert {k: v for k, v in unprocessed.items() if k != "Keys"} == {
        "ConsistentRead": True,
        "ProjectionExpression": "#p, val",
        "ExpressionAttributeNames": {"#p": "pk"},
    }
    returned = [item["pk"]["S"] for item in items]
    handed_back = [key["pk"]["S"] for key in unprocessed["Keys"]]
    assert sorted(returned + handed_back) == [key["pk"]["S"] for key in keys]
    assert proxy.stats().counters["unprocessed_keys"] == 7

    # The same seed picks the same keys again.
    proxy.configure(seed=42)
    first = _trimmed_batch_get(via, keys)["UnprocessedKeys"]
    proxy.configure(seed=42)
    assert _trimmed_batch_get(via, keys)["UnprocessedKeys"] == first

    # Keeping nothing is DynamoDB's answer when no key could be read at all.
    proxy.configure(batch_keep_share=0.0)
    with pytest.raises(ClientError) as caught:
        _trimmed_batch_get(via, keys)
    assert _error_code(caught.value) == "ProvisionedThroughputExceededException"


def test_batch_write_item_is_trimmed_into_unprocessed_items(
    sandbox: Sandbox, proxy: FaultProxy
) -> None:
    direct = sandbox.source("dynamodb")
    _create_table(direct)
    proxy.configure(batch_trim_rate=1.0, batch_keep_share=0.5)
    via = _client("dynamodb", proxy.url)
    puts = [{"PutRequest": {"Item": _item(i)}} for i in range(10)]

    answer = via.batch_write_item(RequestItems={TABLE: puts})

    unprocessed = answer["UnprocessedItems"][TABLE]
    assert len(unprocessed) == 5
    assert all(entry in puts for entry in unprocessed)
    held = {entry["PutRequest"]["Item"]["pk"]["S"] for entry in unprocessed}
    everything = {entry["PutRequest"]["Item"]["pk"]["S"] for entry in puts}
    assert _all_keys(direct) == everything - held  # only the forwarded items were written
    assert proxy.stats().counters["unprocessed_items"] == 5


def test_send_message_batch_entries_fail(sandbox: Sandbox, proxy: FaultProxy) -> None:
    direct = sandbox.dest("sqs")
    queue_url = direct.create_queue(QueueName="faultproxy-fail")["QueueUrl"]
    proxy.configure(
        send_batch_fault_rate=1.0, send_batch_fail_share=0.3, send_batch_sender_fault_share=0.1
    )
    via = _client("sqs", proxy.url, DEST_ACCOUNT)
    entries = [{"Id": f"e{i}", "MessageBody": f"body-{i}"} for i in range(10)]

    answer = via.send_message_batch(QueueUrl=queue_url, Entries=entries)

    failed = answer["Failed"]
    service = [f for f in failed if not f["SenderFault"]]
    sender = [f for f in failed if f["SenderFault"]]
    assert len(service) == 3
    assert all(f["Code"] == "InternalError" for f in service)
    assert len(sender) == 1
    failed_ids = {f["Id"] for f in failed}
    successful_ids = {s["Id"] for s in answer["Successful"]}
    assert failed_ids | successful_ids == {e["Id"] for e in entries}
    assert not failed_ids & successful_ids
    delivered: list[str] = []
    for _ in range(10):
        got = direct.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
        delivered += [m["Body"] for m in got.get("Messages", [])]
        if len(delivered) >= 6:
            break
    assert sorted(delivered) == sorted(f"body-{i[1:]}" for i in successful_ids)

    # Every entry failed: nothing is forwarded, the answer is still a 200 with Failed.
    proxy.configure(send_batch_fail_share=1.0, send_batch_sender_fault_share=0.0)
    answer = via.send_message_batch(QueueUrl=queue_url, Entries=entries[:2])
    assert {f["Id"] for f in answer["Failed"]} == {"e0", "e1"}
    assert answer["Successful"] == []
    counters = proxy.stats().counters
    assert (counters["failed_entries"], counters["sender_fault_entries"]) == (5, 1)


def test_faults_are_scoped_by_account_and_target(sandbox: Sandbox, proxy: FaultProxy) -> None:
    _create_table(sandbox.source("dynamodb"))
    _create_table(sandbox.dest("dynamodb"))
    proxy.configure(
        throttle_rate=1.0,
        fault_accounts=frozenset({DEST_ACCOUNT}),
        fault_targets=frozenset({"BatchWriteItem"}),
    )
    source = _client("dynamodb", proxy.url, SOURCE_ACCOUNT)
    dest = _client("dynamodb", proxy.url, DEST_ACCOUNT)
    batch = {TABLE: [{"PutRequest": {"Item": _item(0)}}]}
    source.batch_write_item(RequestItems=batch)
    dest.put_item(TableName=TABLE, Item=_item(1))
    with pytest.raises(ClientError) as caught:
        dest.batch_write_item(RequestItems=batch)
    assert _error_code(caught.value) == "ThrottlingException"
    assert proxy.stats().counters["throttling_errors"] == 1


# ---- control endpoints and the standalone process --------------------------------------------
def _http(url: str, document: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = None if document is None else json.dumps(document).encode()
    request = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_control_endpoints_change_config_and_report_stats(proxy: FaultProxy) -> None:
    status, config = _http(
        f"{proxy.url}/_faultproxy/config",
        {"error_500_rate": 1.0, "fault_targets": ["GetItem"], "seed": 5},
    )
    assert status == 200
    assert (config["error_500_rate"], config["fault_targets"]) == (1.0, ["GetItem"])
    assert proxy.config.fault_targets == frozenset({"GetItem"})
    assert _http(f"{proxy.url}/_faultproxy/config", {"throttle_rate": 2})[0] == 400
    assert _http(f"{proxy.url}/_faultproxy/config", {"no_such_field": 1})[0] == 400
    status, stats = _http(f"{proxy.url}/_faultproxy/stats")
    assert status == 200
    assert stats["counters"]["requests"] == 0  # control calls are not counted
    assert _http(f"{proxy.url}/_faultproxy/reset", {})[0] == 200


def test_standalone_process_serves_and_stops_on_sigterm(sandbox: Sandbox) -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "benchmarks.faultproxy", "--upstream", sandbox.endpoint_url),
            *("--port", str(port), "--seed", "1", "--read-capacity-rcu-per-s", "1000"),
        ],
        cwd=PROJECT_ROOT,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20.0
        while True:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the proxy never became healthy"
            try:
                if _http(f"{url}/_faultproxy/health") == (200, {"ok": True}):
                    break
            except OSError:
                time.sleep(0.05)
        via = _client("dynamodb", url)
        _create_table(via)
        assert via.list_tables()["TableNames"] == [TABLE]
        assert _http(f"{url}/_faultproxy/config", {"throttle_rate": 1.0})[0] == 200
        with pytest.raises(ClientError) as caught:
            via.list_tables()
        assert _error_code(caught.value) == "ThrottlingException"
        assert _http(f"{url}/_faultproxy/stats")[1]["counters"]["throttling_errors"] == 1
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert f"listening on {url}" in out
    assert "stopped" in out
