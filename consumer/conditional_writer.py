"""skip-existing and newer-wins: one conditional PutItem per item, a few at a time.

BatchWriteItem takes no condition expressions, so these modes use PutItem. A failed condition
means the destination already holds the item (or a newer one): a skip, not a failure. A failed
conditional put still costs write capacity.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from asynccopy.codec import Item
from consumer.backoff import LOST_CONNECTION_ERRORS, Backoff, Deadline
from consumer.config import WriteMode
from consumer.message import DecodedMessage
from consumer.results import MessageResult
from consumer.table import KeySchema
from consumer.writer import RETRYABLE_ERROR_CODES, describe_error, error_code

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class _Fate(Enum):
    WRITTEN = "written"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True, kw_only=True, slots=True)
class _ItemOutcome:
    fate: _Fate
    retries: int = 0
    reason: str | None = None


class ConditionalWriter:
    def __init__(
        self,
        *,
        client: DynamoDBClient,
        schema: KeySchema,
        mode: WriteMode,
        backoff: Backoff,
        threads: int,
    ) -> None:
        if mode.kind == "overwrite":
            raise ValueError("overwrite mode writes with BatchWriter, not ConditionalWriter")
        self._client = client
        self._schema = schema
        self._mode = mode
        self._backoff = backoff
        self._threads = threads
        self._names = {"#pk": schema.partition_key}
        self._condition = "attribute_not_exists(#pk)"
        if mode.kind == "newer-wins":
            self._names["#v"] = str(mode.attribute)
            self._condition += " OR #v < :v"

    @property
    def schema(self) -> KeySchema:
        return self._schema

    def write(self, messages: Sequence[DecodedMessage], deadline: Deadline) -> list[MessageResult]:
        jobs = [(index, item) for index, message in enumerate(messages) for item in message.items]
        with ThreadPoolExecutor(max_workers=max(1, min(self._threads, len(jobs)))) as pool:
            outcomes = list(pool.map(lambda job: self._put(job[1], deadline), jobs))
        per_message: list[list[_ItemOutcome]] = [[] for _ in messages]
        for (index, _item), outcome in zip(jobs, outcomes, strict=True):
            per_message[index].append(outcome)
        return [
            self._result(message, found)
            for message, found in zip(messages, per_message, strict=True)
        ]

    @staticmethod
    def _result(message: DecodedMessage, outcomes: list[_ItemOutcome]) -> MessageResult:
        reasons = [o.reason for o in outcomes if o.fate is _Fate.FAILED and o.reason]
        failure = None
        if reasons:
            more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
            failure = f"{len(reasons)} of {len(outcomes)} items failed: {reasons[0]}{more}"
        return MessageResult(
            message_id=message.message_id,
            items=len(outcomes),
            written=sum(o.fate is _Fate.WRITTEN for o in outcomes),
            skipped=sum(o.fate is _Fate.SKIPPED for o in outcomes),
            retries=sum(o.retries for o in outcomes),
            failure=failure,
        )

    def _request(self, item: Item) -> dict[str, Any] | str:
        request: dict[str, Any] = {
            "TableName": self._schema.table_name,
            "Item": item,
            "ConditionExpression": self._condition,
            "ExpressionAttributeNames": self._names,
        }
        if self._mode.kind == "newer-wins":
            version = item.get(str(self._mode.attribute))
            if version is None:
                return (
                    f"item lacks the newer-wins attribute {self._mode.attribute!r}, so it cannot "
                    f"be compared (give every item that attribute or use another WRITE_MODE)"
                )
            request["ExpressionAttributeValues"] = {":v": version}
        return request

    def _put(self, item: Item, deadline: Deadline) -> _ItemOutcome:
        request = self._request(item)
        if isinstance(request, str):
            return _ItemOutcome(fate=_Fate.FAILED, reason=request)
        attempt = 0
        while True:
            try:
                self._client.put_item(**request)
                return _ItemOutcome(fate=_Fate.WRITTEN, retries=attempt)
            except ClientError as err:
                code = error_code(err)
                if code == "ConditionalCheckFailedException":
                    return _ItemOutcome(fate=_Fate.SKIPPED, retries=attempt)
                if code not in RETRYABLE_ERROR_CODES or not self._backoff.wait(attempt, deadline):
                    return _ItemOutcome(
                        fate=_Fate.FAILED, retries=attempt, reason=describe_error("PutItem", err)
                    )
            except LOST_CONNECTION_ERRORS as err:
                # Retried until the deadline. If the lost put was applied, the retry fails its
                # condition and counts as a skip: the item is in place either way.
                if not self._backoff.wait(attempt, deadline):
                    return _ItemOutcome(
                        fate=_Fate.FAILED, retries=attempt, reason=describe_error("PutItem", err)
                    )
            except Exception as err:
                return _ItemOutcome(
                    fate=_Fate.FAILED, retries=attempt, reason=describe_error("PutItem", err)
                )
            attempt += 1
