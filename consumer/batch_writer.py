"""overwrite mode: each message's items in one BatchWriteItem call, retried until the deadline.

Like boto3's `BatchWriter`, but `UnprocessedItems` are retried with jittered exponential
backoff (the BatchWriteItem reference asks for it) and only until the invocation's deadline,
and every item left over is charged to the message it came from. Rewriting an item is
harmless, so a redelivered message is simply written again.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from asynccopy.codec import Item
from consumer.backoff import LOST_CONNECTION_ERRORS, Backoff, Deadline
from consumer.message import DecodedMessage
from consumer.results import MessageResult
from consumer.table import KeySchema
from consumer.writer import RETRYABLE_ERROR_CODES, describe_error, error_code

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

MAX_ITEMS_PER_CALL: Final = 25  # BatchWriteItem limit
# Messages written at once: a Lambda batch is 10 messages by default.
MESSAGE_THREADS: Final = 10


@dataclass(frozen=True, kw_only=True, slots=True)
class _ChunkOutcome:
    written: int
    retries: int
    failure: str | None


class BatchWriter:
    def __init__(self, *, client: DynamoDBClient, schema: KeySchema, backoff: Backoff) -> None:
        self._client = client
        self._schema = schema
        self._backoff = backoff

    @property
    def schema(self) -> KeySchema:
        return self._schema

    def write(self, messages: Sequence[DecodedMessage], deadline: Deadline) -> list[MessageResult]:
        if len(messages) <= 1:
            return [self._write_message(message, deadline) for message in messages]
        with ThreadPoolExecutor(max_workers=min(MESSAGE_THREADS, len(messages))) as pool:
            return list(pool.map(lambda message: self._write_message(message, deadline), messages))

    def _write_message(self, message: DecodedMessage, deadline: Deadline) -> MessageResult:
        written = retries = 0
        failures: list[str] = []
        for start in range(0, len(message.items), MAX_ITEMS_PER_CALL):
            outcome = self._write_chunk(message.items[start : start + MAX_ITEMS_PER_CALL], deadline)
            written += outcome.written
            retries += outcome.retries
            if outcome.failure is not None:
                failures.append(outcome.failure)
        return MessageResult(
            message_id=message.message_id,
            items=len(message.items),
            written=written,
            retries=retries,
            failure="; ".join(failures) or None,
        )

    def _write_chunk(self, items: Sequence[Item], deadline: Deadline) -> _ChunkOutcome:
        table = self._schema.table_name
        pending: list[Any] = [{"PutRequest": {"Item": item}} for item in items]
        attempt = 0
        lost: Exception | None = None  # the last call's lost connection, if it was lost
        while True:
            try:
                response = self._client.batch_write_item(RequestItems={table: pending})
                pending = list(response.get("UnprocessedItems", {}).get(table, []))
                lost = None
            except ClientError as err:
                # When no item of the call could be written, the whole call fails with
                # ProvisionedThroughputExceededException: retry it like unprocessed items.
                if error_code(err) not in RETRYABLE_ERROR_CODES:
                    return self._outcome(
                        items, pending, attempt, describe_error("BatchWriteItem", err)
                    )
            except LOST_CONNECTION_ERRORS as err:  # retried: putting an item twice is harmless
                lost = err
            except Exception as err:
                return self._outcome(items, pending, attempt, describe_error("BatchWriteItem", err))
            if not pending:
                return self._outcome(items, pending, attempt, None)
            if not self._backoff.wait(attempt, deadline):
                if lost is not None:
                    return self._outcome(
                        items, pending, attempt, describe_error("BatchWriteItem", lost)
                    )
                return self._outcome(
                    items,
                    pending,
                    attempt,
                    f"{len(pending)} of {len(items)} items still unprocessed by BatchWriteItem "
                    f"when the deadline came, after {attempt} retries (the table is throttling: "
                    f"raise its write capacity or lower the mapping's MaximumConcurrency)",
                )
            attempt += 1

    @staticmethod
    def _outcome(
        items: Sequence[Item], pending: Sequence[Any], retries: int, failure: str | None
    ) -> _ChunkOutcome:
        return _ChunkOutcome(written=len(items) - len(pending), retries=retries, failure=failure)
