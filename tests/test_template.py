"""deploy/template.yaml: cfn-lint clean, and the properties the consumer's correctness needs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

TEMPLATE = Path(__file__).resolve().parents[1] / "deploy" / "template.yaml"
CFN_LINT = Path(sys.executable).parent / "cfn-lint"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(TEMPLATE.read_text())
    return loaded


def resources_of(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == kind]


def test_cfn_lint_is_clean() -> None:
    done = subprocess.run(
        [str(CFN_LINT), str(TEMPLATE)], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_visibility_timeout_is_at_least_six_function_timeouts_plus_the_window(
    template: dict[str, Any],
) -> None:
    params = template["Parameters"]
    window = params["MaximumBatchingWindowInSeconds"]["MaxValue"]
    timing = template["Mappings"]["Timing"]
    assert sorted(int(t) for t in timing) == params["FunctionTimeoutSeconds"]["AllowedValues"]
    for timeout, row in timing.items():
        assert row["VisibilityTimeout"] >= 6 * int(timeout) + window
        assert row["VisibilityTimeout"] <= 43_200  # SQS maximum, 12 hours


def test_queues_are_sse_sqs_with_redrive_and_one_mib_messages(template: dict[str, Any]) -> None:
    queues = resources_of(template, "AWS::SQS::Queue")
    assert all(q["SqsManagedSseEnabled"] is True for q in queues)
    (main,) = [q for q in queues if "RedrivePolicy" in q]
    assert main["MaximumMessageSize"] == 1_048_576
    assert main["RedrivePolicy"]["maxReceiveCount"] == {"Ref": "MaxReceiveCount"}


def test_only_the_producer_role_may_send(template: dict[str, Any]) -> None:
    assert "role/" in template["Parameters"]["ProducerRoleArn"]["AllowedPattern"]
    policy = template["Resources"]["QueuePolicy"]["Properties"]["PolicyDocument"]
    (allow,) = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"AWS": {"Ref": "ProducerRoleArn"}}
    assert sorted(allow["Action"]) == ["sqs:GetQueueAttributes", "sqs:SendMessage"]


def test_the_producer_role_may_count_the_dead_letters_for_copy_wait(
    template: dict[str, Any],
) -> None:
    policy = template["Resources"]["DeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]
    (allow,) = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"AWS": {"Ref": "ProducerRoleArn"}}
    assert sorted(allow["Action"]) == ["sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
    assert allow["Resource"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}


def test_function_role_is_least_privilege(template: dict[str, Any]) -> None:
    (role,) = resources_of(template, "AWS::IAM::Role")
    statements = {s["Sid"]: s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]}
    assert sorted(statements["WriteDestinationTable"]["Action"]) == [
        "dynamodb:BatchWriteItem",
        "dynamodb:DescribeTable",
        "dynamodb:PutItem",
    ]
    assert statements["WriteDestinationTable"]["Resource"]["Fn::Sub"].endswith(
        ":table/${TableName}"
    )
    assert sorted(statements["ConsumeQueue"]["Action"]) == [
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ReceiveMessage",
    ]
    assert statements["ConsumeQueue"]["Resource"] == {"Fn::GetAtt": ["Queue", "Arn"]}
    # Rejected items go to the dead-letter queue: sending there, and nothing more.
    assert statements["SendRejectedItems"]["Action"] == ["sqs:SendMessage"]
    assert statements["SendRejectedItems"]["Resource"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    dlq_statements = [s for s in statements.values() if "DeadLetterQueue" in str(s["Resource"])]
    assert dlq_statements == [statements["SendRejectedItems"]]
    assert not any("*" in str(s["Action"]) for s in statements.values())


def test_function_and_mapping(template: dict[str, Any]) -> None:
    (function,) = resources_of(template, "AWS::Lambda::Function")
    assert function["Runtime"] == "python3.12"
    assert function["Handler"] == "consumer.handler.lambda_handler"
    variables = function["Environment"]["Variables"]
    assert set(variables) == {"TABLE_NAME", "WRITE_MODE", "DEAD_LETTER_QUEUE_URL"}
    assert variables["DEAD_LETTER_QUEUE_URL"] == {"Ref": "DeadLetterQueue"}  # Ref gives the URL
    assert "ReservedConcurrentExecutions" not in function
    (mapping,) = resources_of(template, "AWS::Lambda::EventSourceMapping")
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "MaximumConcurrency"}}
    assert template["Parameters"]["MaximumConcurrency"]["MinValue"] >= 2
    assert template["Parameters"]["MaximumBatchingWindowInSeconds"]["MinValue"] >= 1
    assert "reserved concurrency" in TEMPLATE.read_text().lower()


def test_both_queues_keep_messages_14_days(template: dict[str, Any]) -> None:
    queues = resources_of(template, "AWS::SQS::Queue")
    assert len(queues) == 2
    assert all(q["MessageRetentionPeriod"] == 1_209_600 for q in queues)  # the SQS maximum
    # A refused item is sent to the DLQ alone: it fits there whenever it fitted the queue.
    assert all(q["MaximumMessageSize"] == 1_048_576 for q in queues)


def test_an_alarm_watches_the_dead_letter_queue_and_notifies_an_optional_topic(
    template: dict[str, Any],
) -> None:
    (alarm,) = resources_of(template, "AWS::CloudWatch::Alarm")
    assert (alarm["Namespace"], alarm["MetricName"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
    )
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}}
    ]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    topic = template["Parameters"]["AlarmTopicArn"]
    assert topic["Default"] == ""
    assert template["Conditions"]["HasAlarmTopic"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]
    }
    assert alarm["AlarmActions"] == {
        "Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]
    }
