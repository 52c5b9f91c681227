"""Items the destination refuses for good, each sent to the dead-letter queue on its own.

A refused item is a message of its own in the same envelope the producer uses (so redriving
the dead-letter queue to the queue writes it once the cause is fixed), with its reason in the
message attributes `asynccopy-error-code` and `asynccopy-error-message`, and its key (as
consumer.wire.key_to_text writes it) in `asynccopy-key`, so that `asynccopy dlq` names it
without knowing the table. Only once SQS has accepted it does the item count as rejected and
its message as done: an item is never lost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

from botocore.exceptions import ClientError

from consumer.calls import BoundedClients
from consumer.retry import LOST_CONNECTION_ERRORS, Backoff, Deadline, error_code, is_retryable
from consumer.wire import Item, encode_items

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef

ERROR_CODE_ATTRIBUTE: Final = "asynccopy-error-code"
ERROR_MESSAGE_ATTRIBUTE: Final = "asynccopy-error-message"
KEY_ATTRIBUTE: Final = "asynccopy-key"
# Message attributes count toward the message's size; a reason needs no more than this.
MAX_ATTRIBUTE_CHARS: Final = 1_000
# A key is at most 2,048 bytes of partition key and 1,024 of sort key (DynamoDB limits), 4/3 of
# that as base64 for B, plus two names of up to 255: a longer text is no key, and is left out.
MAX_KEY_ATTRIBUTE_CHARS: Final = 8_192
# SQS accepts only #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF in attributes too.
_NOT_SQS_TEXT: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True, kw_only=True, slots=True)
class Rejection:
    """Why the destination will never take an item."""

    key: str  # the item's key, as consumer.wire.key_to_text writes it
    code: str  # DynamoDB's error code, or one of consumer.versions' codes
    reason: str


class DeadLetterSink(Protocol):
    def send(self, item: Item, rejection: Rejection, deadline: Deadline) -> str | None:
        """Put the rejected item in the dead-letter queue; None once SQS has it, else why not."""


def _attribute_text(text: str) -> str:
    return _NOT_SQS_TEXT.sub("?", text)[:MAX_ATTRIBUTE_CHARS] or "-"


class DeadLetterQueue:
    def __init__(
        self, *, clients: BoundedClients[SQSClient], queue_url: str, backoff: Backoff[None]
    ) -> None:
        self._clients = clients
        self._queue_url = queue_url
        self._backoff = backoff

    @property
    def queue_url(self) -> str:
        return self._queue_url

    def send(self, item: Item, rejection: Rejection, deadline: Deadline) -> str | None:
        body = encode_items([item])
        attributes: dict[str, MessageAttributeValueTypeDef] = {
            ERROR_CODE_ATTRIBUTE: {
                "DataType": "String",
                "StringValue": _attribute_text(rejection.code),
            },
            ERROR_MESSAGE_ATTRIBUTE: {
                "DataType": "String",
                "StringValue": _attribute_text(rejection.reason),
            },
        }
        # Never cut short (a cut key names no item): a key that does not fit, or that is not
        # SQS text (key_to_text falls back to repr for a malformed key), is left out, and
        # `asynccopy dlq` then needs --table to name it.
        key = rejection.key
        if 0 < len(key) <= MAX_KEY_ATTRIBUTE_CHARS and not _NOT_SQS_TEXT.search(key):
            attributes[KEY_ATTRIBUTE] = {"DataType": "String", "StringValue": key}
        attempt = 0
        while True:
            client = self._clients.within(deadline.remaining_s())
            if client is None:
                return f"no time left to send it to the dead-letter queue {self._queue_url}"
            try:
                client.send_message(
                    QueueUrl=self._queue_url, MessageBody=body, MessageAttributes=attributes
                )
                return None
            except ClientError as err:
                code = error_code(err)
                if not is_retryable(err) or not self._backoff.wait_within(attempt, deadline):
                    message = err.response.get("Error", {}).get("Message", "")
                    return (
                        f"sending it to the dead-letter queue {self._queue_url} failed: "
                        f"{code}: {message} (the function needs sqs:SendMessage on it)"
                    )
            except LOST_CONNECTION_ERRORS as err:  # a duplicate dead letter is harmless
                if not self._backoff.wait_within(attempt, deadline):
                    return (
                        f"sending it to the dead-letter queue {self._queue_url} failed: "
                        f"{type(err).__name__}: {err}"
                    )
            attempt += 1


class NoDeadLetterQueue:
    """No dead-letter queue is known: a refused item fails its message, which is retried and
    ends in the queue's own dead-letter queue (if any) by its redrive policy, as before."""

    def __init__(self, why: str) -> None:
        self.why = why

    def send(self, item: Item, rejection: Rejection, deadline: Deadline) -> str | None:
        return f"no dead-letter queue to send it to: {self.why}"
