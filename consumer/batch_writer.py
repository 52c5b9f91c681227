"""overwrite mode: each message's items in one BatchWriteItem call, retried until the deadline.

Like boto3's `BatchWriter`, but `UnprocessedItems` are retried with jittered exponential
backoff (the BatchWriteItem reference asks for it) and only until the invocation's deadline,
and every item left over is charged to the message it came from. Rewriting an item is
harmless, so a redelivered message is simply written again.

DynamoDB refuses a whole BatchWriteItem for one item it will never take (ValidationException:
an index key of the wrong type, an empty string). Then that call's items are put one by one
(consumer.item_writer), so every good item is written and only the bad ones are rejected.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from consumer.calls import BoundedClients
from consumer.dead_letters import Rejection
from consumer.errors import REFUSAL_ERROR_CODES, describe_error
from consumer.item_writer import ItemWriter
from consumer.message import DecodedMessage
from consumer.results import Fate, MessageResult, describe_failures
from consumer.retry import LOST_CONNECTION_ERRORS, Backoff, Deadline, error_code, is_retryable
from consumer.table import KeySchema
from consumer.wire import Item

if TYPE_CHECKING:
    from consumer.fast_dynamodb import DynamoDBWrites

MAX_ITEMS_PER_CALL: Final = 25  # BatchWriteItem limit
# Messages written at once: a Lambda batch is 10 messages by default.
MESSAGE_THREADS: Final = 10


@dataclass(frozen=True, kw_only=True, slots=True)
class _ChunkOutcome:
    written: int
    retries: int
    failure: str | None
    rejected: tuple[Rejection, ...] = ()


class BatchWriter:
    def __init__(
        self,
        *,
        clients: BoundedClients[DynamoDBWrites],
        schema: KeySchema,
        backoff: Backoff[None],
        items: ItemWriter,
    ) -> None:
        self._clients = clients
        self._schema = schema
        self._backoff = backoff
        self._items = items

    @property
    def schema(self) -> KeySchema:
        return self._schema

    @property
    def wire_items(self) -> bool:
        return self._clients.wire_items

    def write(self, messages: Sequence[DecodedMessage], deadline: Deadline) -> list[MessageResult]:
        if len(messages) <= 1:
            return [self._write_message(message, deadline) for message in messages]
        with ThreadPoolExecutor(max_workers=min(MESSAGE_THREADS, len(messages))) as pool:
            return list(pool.map(lambda message: self._write_message(message, deadline), messages))

    def _write_message(self, message: DecodedMessage, deadline: Deadline) -> MessageResult:
        outcomes = [
            self._write_chunk(message.items[start : start + MAX_ITEMS_PER_CALL], deadline)
            for start in range(0, len(message.items), MAX_ITEMS_PER_CALL)
        ]
        return MessageResult(
            message_id=message.message_id,
            items=len(message.items),
            written=sum(o.written for o in outcomes),
            rejected=tuple(r for o in outcomes for r in o.rejected),
            retries=sum(o.retries for o in outcomes),
            failure=describe_failures([o.failure for o in outcomes if o.failure is not None]),
        )

    def _write_chunk(self, items: Sequence[Item], deadline: Deadline) -> _ChunkOutcome:
        table = self._schema.table_name
        pending: list[Any] = [{"PutRequest": {"Item": item}} for item in items]
        attempt = 0
        lost: Exception | None = None  # the last call's lost connection, if it was lost
        while True:
            client = self._clients.within(deadline.remaining_s())
            if client is None:
                return self._out_of_time(items, pending, attempt, lost, called=attempt > 0)
            try:
                response = client.batch_write_item(RequestItems={table: pending})
                pending = list(response.get("UnprocessedItems", {}).get(table, []))
                lost = None
            except ClientError as err:
                code = error_code(err)
                if code in REFUSAL_ERROR_CODES:
                    return self._one_by_one(items, pending, attempt, deadline)
                # When no item of the call could be written, the whole call fails with
                # ProvisionedThroughputExceededException: retry it like unprocessed items.
                if not is_retryable(err):
                    return self._outcome(
                        items, pending, attempt, describe_error("BatchWriteItem", err)
                    )
            except LOST_CONNECTION_ERRORS as err:  # retried: putting an item twice is harmless
                lost = err
            except Exception as err:
                return self._outcome(items, pending, attempt, describe_error("BatchWriteItem", err))
            if not pending:
                return self._outcome(items, pending, attempt, None)
            if not self._backoff.wait_within(attempt, deadline):
                return self._out_of_time(items, pending, attempt, lost, called=True)
            attempt += 1

    def _one_by_one(
        self, items: Sequence[Item], pending: Sequence[Any], retries: int, deadline: Deadline
    ) -> _ChunkOutcome:
        """The call was refused for an item in it: put the items not yet written one by one."""
        outcomes = [self._items.put(request["PutRequest"]["Item"], deadline) for request in pending]
        failures = [o.reason for o in outcomes if o.fate is Fate.FAILED and o.reason]
        return _ChunkOutcome(
            written=len(items) - len(pending) + sum(o.fate is Fate.WRITTEN for o in outcomes),
            retries=retries + sum(o.retries for o in outcomes),
            failure=describe_failures(failures),
            rejected=tuple(o.rejection for o in outcomes if o.rejection is not None),
        )

    def _out_of_time(
        self,
        items: Sequence[Item],
        pending: Sequence[Any],
        retries: int,
        lost: Exception | None,
        *,
        called: bool,
    ) -> _ChunkOutcome:
        if lost is not None:
            reason = describe_error("BatchWriteItem", lost)
        elif not called:
            reason = (
                f"no time left to write {len(items)} items before the deadline (raise the "
                f"function's timeout, or lower the mapping's BatchSize)"
            )
        else:
            reason = (
                f"{len(pending)} of {len(items)} items still unprocessed by BatchWriteItem "
                f"when the deadline came, after {retries} retries (the table is throttling: "
                f"raise its write capacity or lower the mapping's MaximumConcurrency)"
            )
        return self._outcome(items, pending, retries, reason)

    @staticmethod
    def _outcome(
        items: Sequence[Item], pending: Sequence[Any], retries: int, failure: str | None
    ) -> _ChunkOutcome:
        return _ChunkOutcome(written=len(items) - len(pending), retries=retries, failure=failure)
