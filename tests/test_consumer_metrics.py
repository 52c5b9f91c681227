"""The consumer's metrics: one CloudWatch Embedded Metric Format line per invocation, valid by the
EMF specification, and the throttled calls it counts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

import consumer.handler
from asynccopy.sandbox.accounts import DEST_ACCOUNT, account_env
from consumer.config import ConsumerEngine
from consumer.metrics import METRIC_UNITS, NAMESPACE, InvocationMetrics
from consumer.results import BatchSummary, MessageResult
from consumer.throttles import CountingDynamoDB, ThrottleCounter
from tests.consumer_helpers import (
    TABLE,
    FixedContext,
    assert_same_items,
    receive_event,
    scan_all,
    seed_and_send,
)
from tests.sandbox_helpers import Sandbox

# "Specification: Embedded metric format" (CloudWatch User Guide): the units a MetricDefinition
# may name.
STANDARD_UNITS = {
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
    "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second",
    "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second",
    "Terabits/Second", "Count/Second", "None",
}  # fmt: skip


def assert_valid_emf(line: str) -> dict[str, Any]:
    """Check `line` against the EMF specification's rules; the parsed document."""
    assert "\n" not in line, "one log line"
    document = json.loads(line)
    assert isinstance(document, dict)
    aws = document["_aws"]
    assert isinstance(aws["Timestamp"], int)
    assert aws["Timestamp"] > 0
    directives = aws["CloudWatchMetrics"]
    assert isinstance(directives, list)
    assert directives
    for directive in directives:
        assert isinstance(directive["Namespace"], str)
        assert 1 <= len(directive["Namespace"]) <= 1024
        dimension_sets = directive["Dimensions"]
        assert isinstance(dimension_sets, list)
        for dimension_set in dimension_sets:
            assert isinstance(dimension_set, list)
            assert len(dimension_set) <= 30
            for name in dimension_set:
                # A dimension names a root member whose value is a non-empty string.
                assert isinstance(document[name], str)
                assert document[name]
                assert 1 <= len(name) <= 255
        metrics = directive["Metrics"]
        assert isinstance(metrics, list)
        assert 1 <= len(metrics) <= 100
        for metric in metrics:
            assert set(metric) <= {"Name", "Unit", "StorageResolution"}
            assert isinstance(metric["Name"], str)
            assert 1 <= len(metric["Name"]) <= 1024
            assert metric.get("Unit", "None") in STANDARD_UNITS
            value = document[metric["Name"]]  # the value is a root member
            values = value if isinstance(value, list) else [value]
            assert 1 <= len(values) <= 100
            assert all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    return document


def summary_of(**counts: int) -> BatchSummary:
    results = [MessageResult(message_id="m1", items=3, written=2, skipped=1, retries=4)]
    return BatchSummary.of(results, duration_ms=counts.get("duration_ms", 17))


def test_the_line_is_valid_emf_with_every_metric_and_its_dimensions() -> None:
    metrics = InvocationMetrics(summary=summary_of(), throttled_calls=5)
    line = metrics.emf_line(
        dimensions={"FunctionName": "asynccopy-consumer", "Table": "users"},
        timestamp_ms=1_764_000_000_000,
    )
    document = assert_valid_emf(line)
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == NAMESPACE
    assert directive["Dimensions"] == [["FunctionName", "Table"]]
    assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == dict(METRIC_UNITS)
    assert document["_aws"]["Timestamp"] == 1_764_000_000_000
    assert (document["FunctionName"], document["Table"]) == ("asynccopy-consumer", "users")
    assert {name: document[name] for name in METRIC_UNITS} == {
        "Messages": 1,
        "MessagesFailed": 0,
        "ItemsWritten": 2,
        "ItemsSkipped": 1,
        "ItemsRejected": 0,
        "ItemsFailed": 0,
        "Retries": 4,
        "ThrottledCalls": 5,
        "HandlerDuration": 17,
    }


def test_an_empty_dimension_value_is_left_out() -> None:
    line = InvocationMetrics(summary=summary_of(), throttled_calls=0).emf_line(
        dimensions={"FunctionName": "", "Table": "users"}, timestamp_ms=1
    )
    document = assert_valid_emf(line)
    assert document["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Table"]]
    assert "FunctionName" not in document


class _Inner:
    def __init__(self, outcomes: list[Any]) -> None:
        self.outcomes = outcomes

    def _next(self) -> Any:
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def batch_write_item(self, *, RequestItems: Any) -> Any:
        return self._next()

    def put_item(self, **request: Any) -> Any:
        return self._next()

    def describe_table(self, *, TableName: str) -> Any:
        return self._next()


def _error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "x"}}, "PutItem")


def test_throttling_errors_and_unprocessed_items_count_as_throttled_calls() -> None:
    counter = ThrottleCounter()
    inner = _Inner(
        [
            {"UnprocessedItems": {TABLE: [{"PutRequest": {"Item": {}}}]}},
            {"UnprocessedItems": {}},
            {"UnprocessedItems": {TABLE: []}},
            _error("ProvisionedThroughputExceededException"),
            _error("ThrottlingException"),
            _error("ValidationException"),
            {},
        ]
    )
    client = CountingDynamoDB(inner, counter)
    for _ in range(3):
        client.batch_write_item(RequestItems={})
    for _ in range(3):
        with pytest.raises(ClientError):
            client.put_item(TableName=TABLE, Item={})
    client.put_item(TableName=TABLE, Item={})
    assert counter.count == 3


def test_the_lambda_handler_prints_one_emf_line_per_invocation(
    sandbox: Sandbox,
    tmp_path: Path,
    consumer_engine: ConsumerEngine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seeded = seed_and_send(sandbox, tmp_path, items=50)
    ev = receive_event(sandbox, seeded, messages=2)
    for name, value in account_env(DEST_ACCOUNT, sandbox.endpoint_url).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setenv("CONSUMER_ENGINE", consumer_engine)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "asynccopy-consumer")
    monkeypatch.setattr(consumer.handler, "_container", None)  # a cold start with this env
    # The cold start freezes the collector (tests/test_gc_tuning.py): not the test process's.
    monkeypatch.setattr(consumer.handler, "settle_after_start", lambda: None)

    response = consumer.handler.lambda_handler(ev, FixedContext(30_000))

    assert response == {"batchItemFailures": []}
    lines = capsys.readouterr().out.splitlines()
    (emf,) = [line for line in lines if '"_aws"' in line]
    document = assert_valid_emf(emf)
    assert (document["FunctionName"], document["Table"]) == ("asynccopy-consumer", TABLE)
    assert (document["Messages"], document["ItemsWritten"], document["ThrottledCalls"]) == (
        2,
        50,
        0,
    )
    assert isinstance(consumer.handler._container, tuple)
    assert consumer.handler._container[1].engine == consumer_engine
    assert_same_items(seeded.items, scan_all(sandbox.dest("dynamodb")))
