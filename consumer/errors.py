"""DynamoDB's error codes the table refuses an item with, and how a failure is described.

Which errors are retried is consumer.retry's one table.
"""

from __future__ import annotations

from typing import Final

from botocore.exceptions import ClientError

from consumer.retry import error_code

# The table refuses the item itself, and will refuse it again: ValidationException (an index
# key attribute of the wrong type or an empty string, an item over 400 KB, ...) and a local
# secondary index's item collection over 10 GB. In a BatchWriteItem one such item fails the
# whole call, so its items are then put one by one, and the refused ones rejected.
REFUSAL_ERROR_CODES: Final = frozenset(
    {"ValidationException", "ItemCollectionSizeLimitExceededException"}
)


def describe_error(operation: str, err: Exception) -> str:
    if isinstance(err, ClientError):
        message = err.response.get("Error", {}).get("Message", "")
        return f"{operation} failed: {error_code(err)}: {message}"
    return f"{operation} failed: {type(err).__name__}: {err}"
