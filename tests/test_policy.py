"""`asynccopy iam-policy`: the producer's least-privilege policy."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from asynccopy.errors import InputError
from asynccopy.policy import ProducerGrant, producer_policy, queue_arn_from_url

TABLE = "arn:aws:dynamodb:eu-west-1:111111111111:table/users"


def test_policy_grants_reads_on_the_table_and_sends_on_the_queue_only() -> None:
    policy = producer_policy(
        ProducerGrant(
            table_arn=TABLE, queue_url="https://sqs.eu-west-1.amazonaws.com/222222222222/q"
        )
    )
    read, send = policy["Statement"]
    assert read["Resource"] == TABLE
    assert set(read["Action"]) == {
        "dynamodb:DescribeTable",
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
        "dynamodb:Scan",
    }
    assert send["Resource"] == "arn:aws:sqs:eu-west-1:222222222222:q"
    assert set(send["Action"]) == {"sqs:SendMessage", "sqs:GetQueueAttributes"}
    assert all("*" not in action for s in policy["Statement"] for action in s["Action"])


def test_policy_with_an_index_grants_reads_on_the_index_too() -> None:
    policy = producer_policy(
        ProducerGrant(
            table_arn=TABLE,
            queue_url="https://sqs.eu-west-1.amazonaws.com/222222222222/q",
            index_name="byCustomer",
        )
    )
    read, _ = policy["Statement"]
    assert read["Resource"] == [TABLE, f"{TABLE}/index/byCustomer"]


def test_policy_for_skip_expired_allows_reading_the_ttl_attribute() -> None:
    queue = "https://sqs.eu-west-1.amazonaws.com/222222222222/q"
    read, _ = producer_policy(ProducerGrant(table_arn=TABLE, queue_url=queue))["Statement"]
    assert "dynamodb:DescribeTimeToLive" not in read["Action"]
    grant = ProducerGrant(table_arn=TABLE, queue_url=queue, skip_expired=True)
    read, _ = producer_policy(grant)["Statement"]
    assert "dynamodb:DescribeTimeToLive" in read["Action"]  # copy --skip-expired calls it


def test_cli_adds_the_index_arn() -> None:
    done = subprocess.run(
        [
            *(sys.executable, "-m", "asynccopy", "iam-policy", "--table-arn", TABLE),
            *("--queue-url", "https://sqs.eu-west-1.amazonaws.com/222222222222/q"),
            *("--index", "byCustomer"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    read = json.loads(done.stdout)["Statement"][0]
    assert read["Resource"] == [TABLE, f"{TABLE}/index/byCustomer"]


@pytest.mark.parametrize(
    ("url", "arn"),
    [
        (
            "https://sqs.us-east-2.amazonaws.com/222222222222/a-b",
            "arn:aws:sqs:us-east-2:222222222222:a-b",
        ),
        ("http://127.0.0.1:4566/222222222222/q.fifo", "arn:aws:sqs:us-east-1:222222222222:q.fifo"),
    ],
)
def test_queue_arn_from_url(url: str, arn: str) -> None:
    assert queue_arn_from_url(url, region="us-east-1") == arn


def test_bad_arguments_are_input_errors() -> None:
    with pytest.raises(InputError, match="not an SQS queue URL"):
        queue_arn_from_url("https://example.com/nope", region="us-east-1")
    with pytest.raises(InputError, match="not a DynamoDB table ARN"):
        producer_policy(ProducerGrant(table_arn="users", queue_url="x"))


def test_cli_prints_json_and_exits_2_on_bad_input() -> None:
    ok = subprocess.run(
        [
            sys.executable,
            "-m",
            "asynccopy",
            "iam-policy",
            "--table-arn",
            TABLE,
            "--queue-url",
            "https://sqs.eu-west-1.amazonaws.com/222222222222/q",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["Version"] == "2012-10-17"
    bad = subprocess.run(
        [sys.executable, "-m", "asynccopy", "iam-policy", "--table-arn", "x", "--queue-url", "y"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0
    assert "not a DynamoDB table ARN" in bad.stderr
