"""`asynccopy sandbox deploy-consumer`: the consumer as a real Lambda in the destination account.

The function is created from the same zip `asynccopy package-consumer` builds, with an SQS
event source mapping from the queue `asynccopy-users`, configured like deploy/template.yaml.

ministack runs Python functions with its *own* interpreter, whose environment has botocore but
not boto3. Real Lambda runtimes ship boto3, so the sandbox publishes a layer holding this
interpreter's boto3 (and its dependencies) in its place; the function zip stays as in AWS.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import boto3
import botocore

from asynccopy.consume.config import parse_write_mode
from asynccopy.consume.queues import find_dead_letter_queue
from asynccopy.deploy.package import build_consumer_zip
from asynccopy.errors import InputError, SandboxError
from asynccopy.sandbox.accounts import DEST_ACCOUNT, REGION
from asynccopy.sandbox.seed import QUEUE_NAME, TABLE_NAME, client

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_sqs import SQSClient

FUNCTION_NAME: Final = "asynccopy-consumer"
RUNTIME_LAYER_NAME: Final = "asynccopy-sandbox-boto3"
HANDLER: Final = "consumer.handler.lambda_handler"
# The sandbox queue's visibility timeout (180 s) is 6x this, per the Lambda SQS guidance.
FUNCTION_TIMEOUT_S: Final = 30
_RUNTIME_PACKAGES: Final = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3")
_RUNTIME_MODULES: Final = ("six",)
# botocore loads service models lazily: the consumer only needs DynamoDB's (SQS and STS for
# debugging in the sandbox), so the layer leaves the other ~400 out.
_BOTOCORE_SERVICES: Final = ("dynamodb", "sqs", "sts")


@dataclass(frozen=True, kw_only=True, slots=True)
class DeployConfig:
    write_mode: str = "overwrite"
    batch_size: int = 10
    max_concurrency: int = 5
    function_timeout_s: int = FUNCTION_TIMEOUT_S
    table_name: str = TABLE_NAME
    queue_name: str = QUEUE_NAME
    function_name: str = FUNCTION_NAME

    def __post_init__(self) -> None:
        parse_write_mode(self.write_mode)
        if not 1 <= self.batch_size <= 10_000:
            raise InputError(
                f"--batch-size {self.batch_size} is outside 1..10000",
                hint="the event source mapping's BatchSize accepts 1 to 10,000 on a standard queue",
            )
        if not 2 <= self.max_concurrency <= 1000:
            raise InputError(
                f"--max-concurrency {self.max_concurrency} is outside 2..1000",
                hint="ScalingConfig.MaximumConcurrency accepts 2 to 1000",
            )

    @property
    def batching_window_s(self) -> int:
        # A BatchSize above 10 needs MaximumBatchingWindowInSeconds of at least 1.
        return 1 if self.batch_size > 10 else 0


@dataclass(frozen=True, kw_only=True, slots=True)
class DeployResult:
    function_arn: str
    mapping_uuid: str
    queue_arn: str
    package_bytes: int
    write_mode: str


def runtime_layer_zip() -> bytes:
    """boto3 and its dependencies from this interpreter, laid out as a Python layer."""
    buffer = io.BytesIO()
    botocore_data = Path(botocore.__file__).parent / "data"
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name in _RUNTIME_PACKAGES:
            spec = importlib.util.find_spec(name)
            if spec is None or spec.origin is None:
                raise SandboxError(
                    f"cannot find the {name} package to build the sandbox's boto3 layer",
                    hint="reinstall the project's environment (`make install`)",
                )
            root = Path(spec.origin).parent
            for path in sorted(root.rglob("*")):
                if not path.is_file() or "__pycache__" in path.parts:
                    continue
                if path.is_relative_to(botocore_data):
                    inner = path.relative_to(botocore_data).parts
                    if len(inner) > 1 and inner[0] not in _BOTOCORE_SERVICES:
                        continue
                zf.write(path, f"python/{name}/{path.relative_to(root)}")
        for name in _RUNTIME_MODULES:
            spec = importlib.util.find_spec(name)
            if spec is not None and spec.origin is not None:
                zf.write(spec.origin, f"python/{Path(spec.origin).name}")
    return buffer.getvalue()


def deploy_consumer(config: DeployConfig, *, endpoint_url: str) -> DeployResult:
    """(Re)create the consumer function and its event source mapping in the destination."""
    lam: LambdaClient = client("lambda", DEST_ACCOUNT, endpoint_url)
    sqs: SQSClient = client("sqs", DEST_ACCOUNT, endpoint_url)
    queue_arn = _queue_arn(sqs, config.queue_name)
    # As deploy/template.yaml does: the function sends items the table refuses to the DLQ.
    dead_letter = find_dead_letter_queue(
        sqs, sqs.get_queue_url(QueueName=config.queue_name)["QueueUrl"]
    )
    environment = {"TABLE_NAME": config.table_name, "WRITE_MODE": config.write_mode}
    if dead_letter.url is not None:
        environment["DEAD_LETTER_QUEUE_URL"] = dead_letter.url
    _remove_existing(lam, config.function_name)
    layer_arn = lam.publish_layer_version(
        LayerName=RUNTIME_LAYER_NAME,
        Description=f"boto3 {boto3.__version__} (stands in for the Lambda runtime's own)",
        Content={"ZipFile": runtime_layer_zip()},
        CompatibleRuntimes=["python3.12"],
    )["LayerVersionArn"]
    package = build_consumer_zip()
    function_arn = lam.create_function(
        FunctionName=config.function_name,
        Runtime="python3.12",
        Handler=HANDLER,
        Role=f"arn:aws:iam::{DEST_ACCOUNT}:role/asynccopy-consumer",
        Code={"ZipFile": package.data},
        Layers=[layer_arn],
        Timeout=config.function_timeout_s,
        MemorySize=256,
        Environment={"Variables": environment},
    )["FunctionArn"]
    _wait_active(lam, config.function_name)
    mapping: Any = {
        "EventSourceArn": queue_arn,
        "FunctionName": config.function_name,
        "BatchSize": config.batch_size,
        "ScalingConfig": {"MaximumConcurrency": config.max_concurrency},
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "Enabled": True,
    }
    if config.batching_window_s:
        mapping["MaximumBatchingWindowInSeconds"] = config.batching_window_s
    uuid = lam.create_event_source_mapping(**mapping)["UUID"]
    return DeployResult(
        function_arn=function_arn,
        mapping_uuid=uuid,
        queue_arn=queue_arn,
        package_bytes=package.size_bytes,
        write_mode=config.write_mode,
    )


def _queue_arn(sqs: SQSClient, queue_name: str) -> str:
    try:
        url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    except sqs.exceptions.QueueDoesNotExist:
        raise InputError(
            f"the destination account has no queue {queue_name!r}",
            hint="create it with `asynccopy sandbox seed` first",
        ) from None
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return attributes["Attributes"]["QueueArn"]


def _remove_existing(lam: LambdaClient, function_name: str) -> None:
    for mapping in lam.list_event_source_mappings(FunctionName=function_name).get(
        "EventSourceMappings", []
    ):
        lam.delete_event_source_mapping(UUID=mapping["UUID"])
    with contextlib.suppress(lam.exceptions.ResourceNotFoundException):
        lam.delete_function(FunctionName=function_name)


def _wait_active(lam: LambdaClient, function_name: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        state = lam.get_function_configuration(FunctionName=function_name).get("State", "Active")
        if state == "Active":
            return
        if state == "Failed" or time.monotonic() > deadline:
            raise SandboxError(
                f"function {function_name} is {state}, not Active, in the sandbox ({REGION})",
                hint="read the sandbox log (`asynccopy sandbox status` names it)",
            )
        time.sleep(0.2)
