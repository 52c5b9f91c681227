"""The Writer protocol, the errors worth retrying, and the factory that picks a writer by mode."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final, Protocol

from botocore.exceptions import ClientError

from consumer.backoff import Backoff, Deadline
from consumer.config import ConsumerConfig
from consumer.message import DecodedMessage
from consumer.results import MessageResult
from consumer.table import KeySchema, describe_key_schema

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Throttling and transient server errors, per "Error handling with DynamoDB": retry these with
# backoff. Everything else (ValidationException above all) fails the message at once.
RETRYABLE_ERROR_CODES: Final = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
    }
)


class Writer(Protocol):
    @property
    def schema(self) -> KeySchema: ...

    def write(
        self, messages: Sequence[DecodedMessage], deadline: Deadline
    ) -> list[MessageResult]: ...


def error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", "Unknown"))


def describe_error(operation: str, err: Exception) -> str:
    if isinstance(err, ClientError):
        message = err.response.get("Error", {}).get("Message", "")
        return f"{operation} failed: {error_code(err)}: {message}"
    return f"{operation} failed: {type(err).__name__}: {err}"


def make_writer(
    client: DynamoDBClient,
    config: ConsumerConfig,
    *,
    schema: KeySchema | None = None,
    backoff: Backoff | None = None,
) -> Writer:
    """The writer for `config.write_mode`; reads the key schema with DescribeTable if not given."""
    from consumer.batch_writer import BatchWriter
    from consumer.conditional_writer import ConditionalWriter

    schema = schema or describe_key_schema(client, config.table_name)
    backoff = backoff or Backoff()
    if config.write_mode.kind == "overwrite":
        return BatchWriter(client=client, schema=schema, backoff=backoff)
    return ConditionalWriter(
        client=client,
        schema=schema,
        mode=config.write_mode,
        backoff=backoff,
        threads=config.write_threads,
    )
