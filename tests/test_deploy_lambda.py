"""The consumer deployed as a user deploys it: deploy/template.yaml as a CloudFormation stack
(`asynccopy sandbox deploy-consumer`), then ministack's SQS event source mapping invokes it.

One stack serves the module's tests (deploying costs about two seconds, the Lambda's cold start
more); the tests that delete or replace a stack make their own.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from asynccopy.errors import InputError
from asynccopy.sandbox import SandboxServer
from asynccopy.sandbox.deploy import (
    DeployConfig,
    DeployResult,
    aws_commands,
    concurrency_warning,
    parse_parameter,
)
from asynccopy.sandbox.profiles import SOURCE_PROFILE
from asynccopy.sandbox.seed import SeedConfig, seed
from tests.consumer_helpers import (
    assert_same_items,
    count_items,
    queue_counts,
    scan_all,
    wait_for,
)
from tests.sandbox_helpers import DEST_ACCOUNT, Sandbox

ITEMS = 2_000


@dataclass
class Stack:
    sandbox: Sandbox
    keys: Path
    outputs: dict[str, str]


@pytest.fixture(scope="module")
def stack(sandbox_server: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> Stack:
    sandbox_server.reset()
    box = Sandbox(server=sandbox_server)
    keys = tmp_path_factory.mktemp("stack") / "keys.txt"
    seed(SeedConfig(items=ITEMS, keys_out=keys), endpoint_url=box.endpoint_url)
    # MaxReceiveCount 2 so that the poison message is dead-lettered after two receives.
    outputs = box.deploy_stack("--max-concurrency", "4", "--parameter", "MaxReceiveCount=2")
    return Stack(sandbox=box, keys=keys, outputs=outputs)


def _mapping(sandbox: Sandbox, function_name: str) -> dict[str, Any]:
    (mapping,) = sandbox.dest("lambda").list_event_source_mappings(FunctionName=function_name)[
        "EventSourceMappings"
    ]
    return dict(mapping)


@pytest.mark.timeout(180)
def test_the_stack_writes_every_copied_item(stack: Stack) -> None:
    box, queue_url = stack.sandbox, stack.outputs["QueueUrl"]
    copied = box.run_cli(
        *("copy", "--profile", SOURCE_PROFILE, "--table", "users", "--keys", str(stack.keys)),
        *("--queue-url", queue_url, "--rate", "max", "--json", "--no-progress", "--no-checkpoint"),
        env=box.profile_env,
    )
    assert copied.returncode == 0, copied.stderr
    assert json.loads(copied.stdout)["items_sent"] == ITEMS
    dest = box.dest("dynamodb")
    wait_for(lambda: count_items(dest) >= ITEMS, timeout_s=120, what=f"{ITEMS} items written")
    assert_same_items(scan_all(box.source("dynamodb")), scan_all(dest))
    wait_for(
        lambda: queue_counts(box, queue_url) == (0, 0),
        timeout_s=30,
        what="the mapping to delete every message",
    )
    assert queue_counts(box, stack.outputs["DeadLetterQueueUrl"]) == (0, 0)


def test_an_update_reaches_the_function_and_the_mapping(stack: Stack) -> None:
    box = stack.sandbox
    done = box.run_cli(
        *("sandbox", "deploy-consumer", "--port", str(box.port)),
        *("--mode", "skip-existing", "--max-concurrency", "3"),
        account=DEST_ACCOUNT,
    )
    assert done.returncode == 0, done.stderr
    assert "stack asynccopy-users updated" in done.stdout
    outputs = dict(re.findall(r"^(\w+): (\S+)$", done.stdout, re.MULTILINE))
    assert outputs == stack.outputs
    # ...and says how to make the same deployment on AWS, with the same parameters.
    (command,) = re.findall(r"^  (aws cloudformation deploy .*)$", done.stdout, re.MULTILINE)
    for pair in ("WriteMode=skip-existing", "MaximumConcurrency=3", "MaxReceiveCount=2"):
        assert pair in command
    function_name = outputs["FunctionName"]
    variables = box.dest("lambda").get_function_configuration(FunctionName=function_name)[
        "Environment"
    ]["Variables"]
    assert variables["WRITE_MODE"] == "skip-existing"
    assert variables["TABLE_NAME"] == "users"
    # The function sends the items the table refuses to the template's dead-letter queue.
    assert variables["DEAD_LETTER_QUEUE_URL"] == outputs["DeadLetterQueueUrl"]
    mapping = _mapping(box, function_name)
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 3}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # Parameters the update did not name keep their values, as with `aws cloudformation deploy`.
    (described,) = box.dest("cloudformation").describe_stacks(StackName="asynccopy-users")["Stacks"]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}
    assert parameters["MaxReceiveCount"] == "2"
    assert parameters["WriteMode"] == "skip-existing"
    # The role the queue policy names is a real role of the source account, with the policy
    # `asynccopy iam-policy` prints for this table and queue.
    iam = box.source("iam")
    assert (
        parameters["ProducerRoleArn"] == iam.get_role(RoleName="asynccopy-producer")["Role"]["Arn"]
    )
    policy = iam.get_role_policy(RoleName="asynccopy-producer", PolicyName="asynccopy")
    document = policy["PolicyDocument"]
    if isinstance(document, str):
        document = json.loads(document)
    resources = {statement["Resource"] for statement in document["Statement"]}
    assert stack.outputs["QueueArn"] in resources


@pytest.mark.timeout(120)
def test_a_poison_message_reaches_the_templates_dead_letter_queue(stack: Stack) -> None:
    box, queue_url, dlq_url = (
        stack.sandbox,
        stack.outputs["QueueUrl"],
        stack.outputs["DeadLetterQueueUrl"],
    )
    sqs = box.dest("sqs")
    redrive = json.loads(
        sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])[
            "Attributes"
        ]["RedrivePolicy"]
    )
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    assert redrive["deadLetterTargetArn"] == dlq_arn
    assert int(redrive["maxReceiveCount"]) == 2
    # Only the template's visibility timeout (6 x the function's timeout) is shortened, so that
    # the failed receive comes back in seconds; the redrive policy is the stack's own.
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"VisibilityTimeout": "2"})
    poison = "definitely not an asynccopy message"
    sqs.send_message(QueueUrl=queue_url, MessageBody=poison)
    wait_for(lambda: queue_counts(box, dlq_url)[0] == 1, timeout_s=90, what="the poison in the DLQ")
    (dead,) = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert dead["Body"] == poison
    assert queue_counts(box, queue_url) == (0, 0)


def test_deploy_warns_when_the_account_cannot_run_maximum_concurrency(stack: Stack) -> None:
    box = stack.sandbox
    lam = box.dest("lambda")
    unreserved = lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"]
    # Reserving all but 2 of the account's concurrency elsewhere leaves the mapping's 4 short.
    lam.create_function(
        FunctionName="greedy",
        Runtime="python3.12",
        Role=f"arn:aws:iam::{DEST_ACCOUNT}:role/greedy",
        Handler="x.handler",
        Code={"ZipFile": _empty_zip()},
    )
    lam.put_function_concurrency(FunctionName="greedy", ReservedConcurrentExecutions=unreserved - 2)
    try:
        done = box.run_cli(
            *("sandbox", "deploy-consumer", "--port", str(box.port), "--max-concurrency", "4"),
            account=DEST_ACCOUNT,
        )
    finally:
        lam.delete_function(FunctionName="greedy")
    assert done.returncode == 0, done.stderr
    assert "warning: the account's unreserved Lambda concurrency is 2" in done.stderr
    assert "MaximumConcurrency 4" in done.stderr


def _empty_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("x.py", "def handler(event, context):\n    return None\n")
    return buffer.getvalue()


def test_delete_removes_the_queue_and_the_function(stack: Stack) -> None:
    box = stack.sandbox
    outputs = box.deploy_stack("--stack-name", "asynccopy-doomed")
    assert outputs["FunctionName"] == "asynccopy-doomed-consumer"
    done = box.run_cli(
        *("sandbox", "deploy-consumer", "--port", str(box.port)),
        *("--stack-name", "asynccopy-doomed", "--delete"),
        account=DEST_ACCOUNT,
    )
    assert done.returncode == 0, done.stderr
    assert "stack asynccopy-doomed deleted" in done.stdout
    queues = box.dest("sqs").list_queues().get("QueueUrls", [])
    assert outputs["QueueUrl"] not in queues
    assert outputs["DeadLetterQueueUrl"] not in queues
    functions = [f["FunctionName"] for f in box.dest("lambda").list_functions()["Functions"]]
    assert "asynccopy-doomed-consumer" not in functions
    assert stack.outputs["FunctionName"] in functions  # the other stack is untouched
    again = box.run_cli(
        *("sandbox", "deploy-consumer", "--port", str(box.port)),
        *("--stack-name", "asynccopy-doomed", "--delete"),
        account=DEST_ACCOUNT,
    )
    assert again.returncode == 0
    assert "does not exist" in again.stdout


def _raw_mapping(sandbox: Sandbox, uuid: str) -> dict[str, Any]:
    """The mapping as the emulator sent it, before botocore's parser coerces its numbers."""
    lam = sandbox.dest("lambda")
    raw: dict[str, Any] = {}

    def keep(response_dict: dict[str, Any], **_: Any) -> None:
        raw.update(json.loads(response_dict["body"]))

    lam.meta.events.register("before-parse.lambda.GetEventSourceMapping", keep)
    lam.get_event_source_mapping(UUID=uuid)
    return raw


def test_the_emulator_still_stores_maximum_concurrency_as_a_string(stack: Stack) -> None:
    """When this fails, ministack converts the mapping's numbers itself: delete
    `_fix_emulator_mapping` from asynccopy/sandbox/deploy.py (and this test)."""
    box = stack.sandbox
    cfn = box.dest("cloudformation")
    (deployed,) = cfn.describe_stacks(StackName="asynccopy-users")["Stacks"]
    parameters = [
        {"ParameterKey": p["ParameterKey"], "ParameterValue": p["ParameterValue"]}
        for p in deployed["Parameters"]
    ]
    template = Path(__file__).resolve().parents[1] / "deploy" / "template.yaml"
    cfn.create_stack(
        StackName="asynccopy-raw",
        TemplateBody=template.read_text(),
        Parameters=parameters,
        Capabilities=["CAPABILITY_IAM"],
    )
    try:
        cfn.get_waiter("stack_create_complete").wait(
            StackName="asynccopy-raw", WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
        uuid = cfn.describe_stack_resource(
            StackName="asynccopy-raw", LogicalResourceId="QueueMapping"
        )["StackResourceDetail"]["PhysicalResourceId"]
        scaling = _raw_mapping(box, uuid)["ScalingConfig"]
        assert isinstance(scaling["MaximumConcurrency"], str), scaling
        # ...which the stack that deploy-consumer made does not have.
        fixed = _mapping(box, stack.outputs["FunctionName"])["UUID"]
        assert isinstance(_raw_mapping(box, fixed)["ScalingConfig"]["MaximumConcurrency"], int)
    finally:
        cfn.delete_stack(StackName="asynccopy-raw")


# ---- without the sandbox --------------------------------------------------------------------


def test_concurrency_warning_compares_unreserved_concurrency_with_the_mapping() -> None:
    settings = {"AccountLimit": {"UnreservedConcurrentExecutions": 10}}
    assert concurrency_warning(settings, 10) is None
    warning = concurrency_warning(settings, 20)
    assert warning is not None
    assert "unreserved Lambda concurrency is 10" in warning
    assert "MaximumConcurrency 20" in warning
    assert concurrency_warning({}, 20) is None


def test_parameters_are_name_equals_value_and_the_sandbox_keeps_its_own() -> None:
    assert parse_parameter("MaxReceiveCount=2") == ("MaxReceiveCount", "2")
    assert parse_parameter("WriteMode=newer-wins:a=b") == ("WriteMode", "newer-wins:a=b")
    with pytest.raises(InputError, match="NAME=VALUE"):
        parse_parameter("MaxReceiveCount")
    config = DeployConfig(write_mode="skip-existing", overrides=(("MaxReceiveCount", "3"),))
    assert config.given() == {"WriteMode": "skip-existing", "MaxReceiveCount": "3"}
    with pytest.raises(InputError, match="set by the sandbox"):
        DeployConfig(overrides=(("TableName", "other"),))
    with pytest.raises(InputError, match=r"2\.\.1000"):
        DeployConfig(max_concurrency=1)


def test_the_aws_commands_carry_the_stacks_parameters() -> None:
    result = DeployResult(
        stack_name="asynccopy-users",
        action="created",
        parameters={"TableName": "users", "WriteMode": "overwrite", "MaximumConcurrency": "3"},
        overrides={"TableName": "users", "MaximumConcurrency": "3"},
        outputs={},
        code_key="asynccopy/consumer-0123.zip",
        package_bytes=1,
    )
    commands = aws_commands(result)
    (deploy,) = [c for c in commands if c.startswith("aws cloudformation deploy")]
    assert "--template-file deploy/template.yaml --capabilities CAPABILITY_IAM" in deploy
    for pair in ("TableName=users", "MaximumConcurrency=3"):
        assert pair in deploy
    assert "WriteMode" not in deploy  # the template's default
    assert "CodeS3Key=asynccopy/consumer.zip" in deploy
    assert any("get-account-settings" in c for c in commands)
