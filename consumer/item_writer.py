"""One item, one PutItem: the conditional modes' write, and overwrite's when a batch is refused.

Each put is retried (throttling, the service's 5xx, a lost connection) until the deadline, on
a client whose timeouts end before it. An item DynamoDB refuses for good (ValidationException:
an index key attribute of the wrong type or an empty string, an item over 400 KB; a full item
collection), or one newer-wins cannot compare, is *rejected*: sent to the dead-letter queue on
its own, so that it neither fails the items beside it nor makes its message cycle.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from consumer.calls import BoundedClients
from consumer.config import WriteMode
from consumer.dead_letters import DeadLetterSink, Rejection
from consumer.errors import REFUSAL_ERROR_CODES, describe_error
from consumer.results import Fate, ItemOutcome
from consumer.retry import LOST_CONNECTION_ERRORS, Backoff, Deadline, error_code, is_retryable
from consumer.table import KeySchema
from consumer.versions import Verdict, newer_wins, unusable_version
from consumer.wire import Item, WireItem, from_wire, key_to_text

if TYPE_CHECKING:
    from consumer.fast_dynamodb import DynamoDBWrites

_NO_TIME: Final = "no time left for PutItem before the deadline"
_CONDITION_FAILED: Final = "ConditionalCheckFailedException"


class ItemWriter:
    def __init__(
        self,
        *,
        clients: BoundedClients[DynamoDBWrites],
        schema: KeySchema,
        mode: WriteMode,
        backoff: Backoff[None],
        dead_letters: DeadLetterSink,
    ) -> None:
        self._clients = clients
        self._schema = schema
        self._mode = mode
        self._backoff = backoff
        self._dead_letters = dead_letters
        self._condition: dict[str, Any] = {}
        if mode.kind == "skip-existing":
            self._condition = {
                "ConditionExpression": "attribute_not_exists(#pk)",
                "ExpressionAttributeNames": {"#pk": schema.partition_key},
            }
        elif mode.kind == "newer-wins":
            # A destination item without the attribute loses; the failed check returns the
            # destination's item, so that a skip and a type mismatch can be told apart.
            self._condition = {
                "ConditionExpression": (
                    "attribute_not_exists(#pk) OR attribute_not_exists(#v) OR #v < :v"
                ),
                "ExpressionAttributeNames": {"#pk": schema.partition_key, "#v": mode.attribute},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }

    @property
    def schema(self) -> KeySchema:
        return self._schema

    @property
    def wire_items(self) -> bool:
        return self._clients.wire_items

    def key_text(self, item: Item) -> str:
        key = {name: item[name] for name in self._schema.key_names}
        return key_to_text(from_wire(key) if isinstance(item, WireItem) else key)

    def _request(self, item: Item) -> dict[str, Any]:
        request: dict[str, Any] = {"TableName": self._schema.table_name, "Item": item}
        request.update(self._condition)
        if self._mode.kind == "newer-wins":
            request["ExpressionAttributeValues"] = {":v": item[str(self._mode.attribute)]}
        return request

    def put(self, item: Item, deadline: Deadline) -> ItemOutcome:
        if self._mode.kind == "newer-wins":
            unusable = unusable_version(item, str(self._mode.attribute))
            if unusable is not None:
                return self.reject(item, str(unusable.code), str(unusable.reason), deadline)
        request = self._request(item)
        attempt = 0
        while True:
            client = self._clients.within(deadline.remaining_s())
            if client is None:
                return ItemOutcome(fate=Fate.FAILED, retries=attempt, reason=_NO_TIME)
            try:
                client.put_item(**request)
                return ItemOutcome(fate=Fate.WRITTEN, retries=attempt)
            except ClientError as err:
                code = error_code(err)
                if code == _CONDITION_FAILED:
                    outcome = self._condition_failed(item, err, attempt, deadline)
                    if outcome is not None:
                        return outcome
                    # The destination changed under us (its item went, or lost the attribute):
                    # the rule says write, so put again.
                elif code in REFUSAL_ERROR_CODES:
                    message = str(err.response.get("Error", {}).get("Message", ""))
                    return self.reject(item, code, message, deadline, retries=attempt)
                # Put again after a backoff: throttling and 5xx (consumer.retry), or a
                # condition that failed although the rule says write (handled above).
                put_again = code == _CONDITION_FAILED or is_retryable(err)
                if not put_again or not self._backoff.wait_within(attempt, deadline):
                    return ItemOutcome(
                        fate=Fate.FAILED, retries=attempt, reason=describe_error("PutItem", err)
                    )
            except LOST_CONNECTION_ERRORS as err:
                # Retried until the deadline. If the lost put was applied, a conditional retry
                # fails its condition and counts as a skip: the item is in place either way.
                if not self._backoff.wait_within(attempt, deadline):
                    return ItemOutcome(
                        fate=Fate.FAILED, retries=attempt, reason=describe_error("PutItem", err)
                    )
            except Exception as err:
                return ItemOutcome(
                    fate=Fate.FAILED, retries=attempt, reason=describe_error("PutItem", err)
                )
            attempt += 1

    def _condition_failed(
        self, item: Item, err: ClientError, attempt: int, deadline: Deadline
    ) -> ItemOutcome | None:
        """Skip or reject after a failed condition; None if the item should be put again."""
        if self._mode.kind != "newer-wins":
            return ItemOutcome(fate=Fate.SKIPPED, retries=attempt)
        existing = _client_item(err.response.get("Item"))
        decision = newer_wins(item, existing, str(self._mode.attribute))
        if decision.verdict is Verdict.SKIP:
            return ItemOutcome(fate=Fate.SKIPPED, retries=attempt)
        if decision.verdict is Verdict.REJECT:
            return self.reject(
                item, str(decision.code), str(decision.reason), deadline, retries=attempt
            )
        return None

    def reject(
        self, item: Item, code: str, reason: str, deadline: Deadline, *, retries: int = 0
    ) -> ItemOutcome:
        """Send `item` to the dead-letter queue; REJECTED once it is there, else FAILED."""
        rejection = Rejection(key=self.key_text(item), code=code, reason=reason)
        problem = self._dead_letters.send(item, rejection, deadline)
        if problem is None:
            return ItemOutcome(fate=Fate.REJECTED, retries=retries, rejection=rejection)
        return ItemOutcome(
            fate=Fate.FAILED,
            retries=retries,
            reason=f"item {rejection.key} was refused ({code}: {reason}), and {problem}",
        )


def _client_item(value: object) -> Item | None:
    """The item a failed condition returned, in client shape (B as bytes) whatever the parser
    left it as; None if the failure carried none (the destination item is gone)."""
    if not isinstance(value, dict) or not value:
        return None
    item: Item = {}
    for name, attribute in value.items():
        if isinstance(attribute, dict) and isinstance(attribute.get("B"), str):
            attribute = {"B": base64.b64decode(attribute["B"])}
        item[str(name)] = attribute
    return item
