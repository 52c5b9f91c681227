"""Why an item failed, as a short stable code.

`failed_by_reason` counts failures by these codes (never by their text, which differs per item),
and the summary's advice follows from them: a retry (`--resume`) can fix a throttled read or a
refused send, never an item too large for the queue nor one the `--transform` function rejects
(the same function fails it again).

    FailureCode          the codes, with `retry_fixes` and `by_transform`
    read_failure(code)   the code for a BatchGetItem error code (or "UnprocessedKeys")
    send_failure(code)   the code for a SendMessageBatch error code
"""

from __future__ import annotations

from enum import StrEnum

from consumer.retry import THROTTLING_CODES

# BatchGetItem's keys still unprocessed when the retries ran out: DynamoDB returns them when it
# throttles ("UnprocessedKeys": the API reference), once a reply cut by size is read on.
UNPROCESSED_KEYS = "UnprocessedKeys"


class FailureCode(StrEnum):
    THROTTLED = "throttled"  # throttled until the retries ran out (reading or sending)
    READ_ERROR = "read_error"  # BatchGetItem failed otherwise
    SEND_ERROR = "send_error"  # SendMessageBatch refused the message, or failed otherwise
    ITEM_TOO_LARGE = "item_too_large"  # fits no message of the queue even alone
    TRANSFORM_ERROR = "transform_error"  # the --transform function raised
    TRANSFORM_INVALID_KEY = "transform_invalid_key"  # its result's key is missing or changed
    TRANSFORM_INVALID_RESULT = "transform_invalid_result"  # not an item, or an invalid value

    @property
    def by_transform(self) -> bool:
        return self in _BY_TRANSFORM

    @property
    def retry_fixes(self) -> bool:
        """Whether the same command run again (`--resume`) may succeed for this item."""
        return not self.by_transform and self is not FailureCode.ITEM_TOO_LARGE


_BY_TRANSFORM = frozenset(
    {
        FailureCode.TRANSFORM_ERROR,
        FailureCode.TRANSFORM_INVALID_KEY,
        FailureCode.TRANSFORM_INVALID_RESULT,
    }
)


def read_failure(code: str) -> FailureCode:
    if code in THROTTLING_CODES or code == UNPROCESSED_KEYS:
        return FailureCode.THROTTLED
    return FailureCode.READ_ERROR


def send_failure(code: str) -> FailureCode:
    return FailureCode.THROTTLED if code in THROTTLING_CODES else FailureCode.SEND_ERROR
