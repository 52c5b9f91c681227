"""`asynccopy sandbox deploy-consumer`: deploy/template.yaml as a CloudFormation stack in the
sandbox's destination account, the way `aws cloudformation deploy` does it on AWS.

1. the consumer's zip (`asynccopy package-consumer`) goes to a bucket of the destination account,
   under a key named by its content hash, so that changed code is a changed parameter and the
   stack update replaces the function's code (as `aws cloudformation package` does);
2. the producer role the queue policy names exists in the source account;
3. the stack is created, or updated with the parameters given (the others keep their values);
4. the emulator's quirk is worked around (below), and the stack's outputs are returned.

Nothing else creates the function: the template is exactly what AWS gets.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from asynccopy.consume.config import parse_write_mode
from asynccopy.errors import InputError, SandboxError
from asynccopy.policy import ProducerGrant, producer_policy
from asynccopy.sandbox.accounts import DEST_ACCOUNT, REGION, SOURCE_ACCOUNT
from asynccopy.sandbox.package import build_consumer_zip
from asynccopy.sandbox.seed import TABLE_NAME, client

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

STACK_NAME: Final = "asynccopy-users"
ARTIFACT_BUCKET: Final = "asynccopy-sandbox-artifacts"
PRODUCER_ROLE_NAME: Final = "asynccopy-producer"
PRODUCER_POLICY_NAME: Final = "asynccopy"
TEMPLATE_PATH: Final = Path(__file__).resolve().parents[2] / "deploy" / "template.yaml"
# IAM resources without custom names: CAPABILITY_IAM, as on AWS.
CAPABILITIES: Final = ("CAPABILITY_IAM",)
STACK_TIMEOUT_S: Final = 180.0
_POLL_S: Final = 0.5


# ---- the emulator's quirk, worked around here and nowhere else -------------------------------
# ministack 1.5.33's CloudFormation stores the mapping's ScalingConfig.MaximumConcurrency (and,
# on a stack update, BatchSize and MaximumBatchingWindowInSeconds) as the strings the template's
# parameters hold, where AWS converts them to the integers the resource schema declares. The
# emulator's poller then fails on every poll ("'>=' not supported between instances of 'int'
# and 'str'"). The sandbox writes the stack's values back as integers through
# UpdateEventSourceMapping, which changes nothing where they already are integers.
# tests/test_deploy_lambda.py::test_the_emulator_still_stores_maximum_concurrency_as_a_string
# fails once a ministack release fixes it: then delete this function and its call.
def _fix_emulator_mapping(lam: LambdaClient, uuid: str, parameters: Mapping[str, str]) -> None:
    lam.update_event_source_mapping(
        UUID=uuid,
        BatchSize=int(parameters["BatchSize"]),
        MaximumBatchingWindowInSeconds=int(parameters["MaximumBatchingWindowInSeconds"]),
        ScalingConfig={"MaximumConcurrency": int(parameters["MaximumConcurrency"])},
    )


# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class DeployConfig:
    """The stack's parameters. None means the template's default on create and the stack's
    current value on update, as with `aws cloudformation deploy --parameter-overrides`."""

    stack_name: str = STACK_NAME
    table_name: str = TABLE_NAME
    write_mode: str | None = None
    batch_size: int | None = None
    max_concurrency: int | None = None
    # Any other template parameter, NAME -> value (`--parameter NAME=VALUE`).
    overrides: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.write_mode is not None:
            parse_write_mode(self.write_mode)
        if self.batch_size is not None and not 1 <= self.batch_size <= 10_000:
            raise InputError(
                f"--batch-size {self.batch_size} is outside 1..10000",
                hint="the mapping's BatchSize accepts 1 to 10000 on a standard queue",
            )
        if self.max_concurrency is not None and not 2 <= self.max_concurrency <= 1000:
            raise InputError(
                f"--max-concurrency {self.max_concurrency} is outside 2..1000",
                hint="ScalingConfig.MaximumConcurrency accepts 2 to 1000",
            )

        for name, _value in self.overrides:
            if name in _SANDBOX_PARAMETERS:
                raise InputError(
                    f"--parameter {name} is set by the sandbox itself",
                    hint=f"leave it out; the sandbox sets {', '.join(_SANDBOX_PARAMETERS)}",
                )

    def given(self) -> dict[str, str]:
        """The parameters this deployment sets, besides the sandbox's own (table, role, code)."""
        named = {
            "WriteMode": self.write_mode,
            "BatchSize": self.batch_size,
            "MaximumConcurrency": self.max_concurrency,
        }
        given = {name: str(value) for name, value in named.items() if value is not None}
        given.update(self.overrides)
        return given


_SANDBOX_PARAMETERS: Final = ("TableName", "ProducerRoleArn", "CodeS3Bucket", "CodeS3Key")


def parse_parameter(text: str) -> tuple[str, str]:
    """`NAME=VALUE`, as `aws cloudformation deploy --parameter-overrides` takes it."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise InputError(
            f"--parameter {text!r} is not NAME=VALUE",
            hint="write it as aws cloudformation deploy does, e.g. --parameter MaxReceiveCount=2",
        )
    return name.strip(), value


@dataclass(frozen=True, kw_only=True, slots=True)
class DeployResult:
    stack_name: str
    action: str  # "created", "updated" or "unchanged"
    parameters: dict[str, str]  # every parameter the stack now has
    # Those that differ from the template's defaults, or that it has no default for.
    overrides: dict[str, str]
    outputs: dict[str, str]
    code_key: str
    package_bytes: int
    warnings: tuple[str, ...] = field(default=())

    @property
    def queue_url(self) -> str:
        return self.outputs["QueueUrl"]

    @property
    def dlq_url(self) -> str:
        return self.outputs["DeadLetterQueueUrl"]

    @property
    def function_name(self) -> str:
        return self.outputs["FunctionName"]


def producer_role_arn() -> str:
    return f"arn:aws:iam::{SOURCE_ACCOUNT}:role/{PRODUCER_ROLE_NAME}"


def deploy_consumer(
    config: DeployConfig, *, endpoint_url: str, say: Callable[[str], None] = lambda _line: None
) -> DeployResult:
    """Create or update the consumer's stack in the destination account and return its
    outputs once it is complete."""
    _require_table(endpoint_url, config.table_name)
    template = _template_body()
    package = build_consumer_zip()
    code_key = f"asynccopy/consumer-{hashlib.sha256(package.data).hexdigest()[:16]}.zip"
    _upload(endpoint_url, code_key, package.data)
    say(f"uploaded consumer.zip ({package.size_bytes} bytes) to s3://{ARTIFACT_BUCKET}/{code_key}")
    _ensure_producer_role(endpoint_url)

    cfn: Any = client("cloudformation", DEST_ACCOUNT, endpoint_url)
    fixed = {
        "TableName": config.table_name,
        "ProducerRoleArn": producer_role_arn(),
        "CodeS3Bucket": ARTIFACT_BUCKET,
        "CodeS3Key": code_key,
    }
    existing = _describe(cfn, config.stack_name)
    if existing is not None and existing["StackStatus"] == "ROLLBACK_COMPLETE":
        # A stack whose creation failed can only be deleted (as `aws cloudformation deploy` asks).
        say(f"deleting stack {config.stack_name}, whose creation had failed")
        _delete_and_wait(cfn, config.stack_name)
        existing = None
    given = {**fixed, **config.given()}
    try:
        if existing is None:
            say(f"creating stack {config.stack_name} ...")
            cfn.create_stack(
                StackName=config.stack_name,
                TemplateBody=template,
                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in given.items()],
                Capabilities=list(CAPABILITIES),
            )
            action = "created"
        else:
            keep = [
                p["ParameterKey"]
                for p in existing.get("Parameters", [])
                if p["ParameterKey"] not in given
            ]
            say(f"updating stack {config.stack_name} ...")
            cfn.update_stack(
                StackName=config.stack_name,
                TemplateBody=template,
                Parameters=[
                    *({"ParameterKey": k, "ParameterValue": v} for k, v in given.items()),
                    *({"ParameterKey": k, "UsePreviousValue": True} for k in keep),
                ],
                Capabilities=list(CAPABILITIES),
            )
            action = "updated"
    except ClientError as exc:
        message = exc.response.get("Error", {}).get("Message", str(exc))
        if "No updates are to be performed" in message:
            action = "unchanged"
        else:
            raise InputError(
                f"CloudFormation refused stack {config.stack_name}: {message}",
                hint="check the --parameter names and values against deploy/template.yaml",
            ) from None
    stack = _wait(cfn, config.stack_name)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    lam: LambdaClient = client("lambda", DEST_ACCOUNT, endpoint_url)
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}
    defaults = {
        p["ParameterKey"]: p.get("DefaultValue")
        for p in cfn.validate_template(TemplateBody=template).get("Parameters", [])
    }
    mapping = cfn.describe_stack_resource(
        StackName=config.stack_name, LogicalResourceId="QueueMapping"
    )["StackResourceDetail"]["PhysicalResourceId"]
    _fix_emulator_mapping(lam, mapping, parameters)
    _grant_producer(endpoint_url, config.table_name, outputs["QueueUrl"])
    warning = concurrency_warning(
        lam.get_account_settings(), int(parameters.get("MaximumConcurrency", "0") or 0)
    )
    return DeployResult(
        stack_name=config.stack_name,
        action=action,
        parameters=parameters,
        overrides={k: v for k, v in parameters.items() if defaults.get(k) != v},
        outputs=outputs,
        code_key=code_key,
        package_bytes=package.size_bytes,
        warnings=(warning,) if warning else (),
    )


def delete_consumer(
    stack_name: str, *, endpoint_url: str, say: Callable[[str], None] = lambda _line: None
) -> bool:
    """Delete the stack (queue, dead-letter queue, function, mapping); False if there was none."""
    cfn: Any = client("cloudformation", DEST_ACCOUNT, endpoint_url)
    if _describe(cfn, stack_name) is None:
        return False
    say(f"deleting stack {stack_name} ...")
    _delete_and_wait(cfn, stack_name)
    return True


def concurrency_warning(settings: Mapping[str, Any], max_concurrency: int) -> str | None:
    """A warning when the account cannot run MaximumConcurrency invocations at once.

    New accounts get a reduced concurrency quota ("Lambda quotas"): the mapping's invocations
    are then throttled, each throttle counts as a receive, and healthy messages drift to the
    dead-letter queue.
    """
    unreserved = settings.get("AccountLimit", {}).get("UnreservedConcurrentExecutions")
    if unreserved is None or unreserved >= max_concurrency:
        return None
    return (
        f"the account's unreserved Lambda concurrency is {unreserved}, below the mapping's"
        f" MaximumConcurrency {max_concurrency}: invocations will be throttled and healthy"
        " messages can reach the dead-letter queue (lower MaximumConcurrency, or request a"
        " higher 'Concurrent executions' quota)"
    )


def aws_commands(result: DeployResult, *, profile: str = "dest") -> list[str]:
    """The commands that make the same deployment on AWS: the parameters the stack was given
    that differ from the template's defaults, with your own bucket in place of the sandbox's
    (the source account's id is the docs' example, 111111111111, in both)."""
    parameters = {
        "TableName": result.overrides.get("TableName", TABLE_NAME),
        "ProducerRoleArn": result.overrides.get("ProducerRoleArn", producer_role_arn()),
        "CodeS3Bucket": "MY-ARTIFACT-BUCKET",
        "CodeS3Key": "asynccopy/consumer.zip",
    }
    parameters.update((k, v) for k, v in result.overrides.items() if k not in parameters)
    overrides = " ".join(shlex.quote(f"{k}={v}") for k, v in parameters.items())
    return [
        "asynccopy package-consumer --out consumer.zip",
        "aws s3 cp consumer.zip s3://MY-ARTIFACT-BUCKET/asynccopy/consumer.zip"
        f" --profile {profile}",
        f"aws cloudformation deploy --profile {profile} --stack-name {result.stack_name}"
        f" --template-file deploy/template.yaml --capabilities {' '.join(CAPABILITIES)}"
        f" --parameter-overrides {overrides}",
        f"aws cloudformation describe-stacks --profile {profile} --stack-name"
        f" {result.stack_name} --query 'Stacks[0].Outputs'",
        f"aws lambda get-account-settings --profile {profile}"
        " --query 'AccountLimit.UnreservedConcurrentExecutions'",
    ]


def stack_outputs(stack_name: str, *, endpoint_url: str) -> dict[str, str]:
    """The outputs of a deployed stack (QueueUrl, DeadLetterQueueUrl, QueueArn, FunctionName)."""
    cfn: Any = client("cloudformation", DEST_ACCOUNT, endpoint_url)
    stack = _describe(cfn, stack_name)
    if stack is None:
        raise InputError(
            f"the destination account has no stack {stack_name!r}",
            hint="deploy it with `asynccopy sandbox deploy-consumer`",
        )
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


# ---- steps ----------------------------------------------------------------------------------


def _template_body() -> str:
    try:
        return TEMPLATE_PATH.read_text(encoding="utf-8")
    except OSError as exc:
        raise SandboxError(
            f"cannot read the consumer's template {TEMPLATE_PATH}: {exc.strerror}",
            hint="run asynccopy from a clone of the project (the template is not installed)",
        ) from None


def _require_table(endpoint_url: str, table_name: str) -> None:
    ddb: Any = client("dynamodb", DEST_ACCOUNT, endpoint_url)
    try:
        ddb.describe_table(TableName=table_name)
    except ddb.exceptions.ResourceNotFoundException:
        raise InputError(
            f"the destination account has no table {table_name!r}",
            hint="create it with `asynccopy sandbox seed` first",
        ) from None


def _upload(endpoint_url: str, key: str, data: bytes) -> None:
    s3: Any = client("s3", DEST_ACCOUNT, endpoint_url)
    try:
        s3.head_bucket(Bucket=ARTIFACT_BUCKET)
    except ClientError:
        s3.create_bucket(Bucket=ARTIFACT_BUCKET)
    s3.put_object(Bucket=ARTIFACT_BUCKET, Key=key, Body=data)


def _ensure_producer_role(endpoint_url: str) -> None:
    """The source account's role that runs `asynccopy copy`; the queue policy names it."""
    iam: Any = client("iam", SOURCE_ACCOUNT, endpoint_url)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{SOURCE_ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    try:
        iam.get_role(RoleName=PRODUCER_ROLE_NAME)
    except iam.exceptions.NoSuchEntityException:
        iam.create_role(RoleName=PRODUCER_ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))


def _grant_producer(endpoint_url: str, table_name: str, queue_url: str) -> None:
    """The role's identity policy, as `asynccopy iam-policy` prints it (docs/cross-account.md)."""
    iam: Any = client("iam", SOURCE_ACCOUNT, endpoint_url)
    policy = producer_policy(
        ProducerGrant(
            table_arn=f"arn:aws:dynamodb:{REGION}:{SOURCE_ACCOUNT}:table/{table_name}",
            queue_url=queue_url,
            queue_region=REGION,
        )
    )
    iam.put_role_policy(
        RoleName=PRODUCER_ROLE_NAME,
        PolicyName=PRODUCER_POLICY_NAME,
        PolicyDocument=json.dumps(policy),
    )


def _describe(cfn: Any, stack_name: str) -> dict[str, Any] | None:
    try:
        stacks = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        if "does not exist" in exc.response.get("Error", {}).get("Message", ""):
            return None
        raise
    live = [s for s in stacks if s["StackStatus"] != "DELETE_COMPLETE"]
    return live[0] if live else None


def _wait(cfn: Any, stack_name: str) -> dict[str, Any]:
    deadline = time.monotonic() + STACK_TIMEOUT_S
    while True:
        stack = _describe(cfn, stack_name)
        if stack is None:
            raise SandboxError(
                f"stack {stack_name} disappeared while it was being deployed",
                hint="run `asynccopy sandbox deploy-consumer` again",
            )
        status = stack["StackStatus"]
        if not status.endswith("_IN_PROGRESS"):
            if status in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
                return stack
            raise SandboxError(
                f"stack {stack_name} ended in {status}: {_failures(cfn, stack_name)}",
                hint="fix the cause named, then run `asynccopy sandbox deploy-consumer` again",
            )
        if time.monotonic() > deadline:
            raise SandboxError(
                f"stack {stack_name} is still {status} after {STACK_TIMEOUT_S:.0f} s",
                hint="read the sandbox log (`asynccopy sandbox status` names it)",
            )
        time.sleep(_POLL_S)


def _failures(cfn: Any, stack_name: str) -> str:
    events = cfn.describe_stack_events(StackName=stack_name).get("StackEvents", [])
    failed = [
        f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}"
        for e in events
        if e.get("ResourceStatus", "").endswith("_FAILED")
    ]
    return "; ".join(failed[:3]) or "no failed resource reported"


def _delete_and_wait(cfn: Any, stack_name: str) -> None:
    cfn.delete_stack(StackName=stack_name)
    deadline = time.monotonic() + STACK_TIMEOUT_S
    while (stack := _describe(cfn, stack_name)) is not None:
        if stack["StackStatus"] == "DELETE_FAILED" or time.monotonic() > deadline:
            raise SandboxError(
                f"stack {stack_name} could not be deleted ({stack['StackStatus']}):"
                f" {_failures(cfn, stack_name)}",
                hint="run `asynccopy sandbox reset` to empty the sandbox",
            )
        time.sleep(_POLL_S)
