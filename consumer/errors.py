"""DynamoDB's error codes, sorted by what the writers do about them."""

from __future__ import annotations

from typing import Final

from botocore.exceptions import ClientError

# Throttling and transient server errors, per "Error handling with DynamoDB": retry these with
# backoff, until the deadline.
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

# The table refuses the item itself, and will refuse it again: ValidationException (an index
# key attribute of the wrong type or an empty string, an item over 400 KB, ...) and a local
# secondary index's item collection over 10 GB. In a BatchWriteItem one such item fails the
# whole call, so its items are then put one by one, and the refused ones rejected.
REFUSAL_ERROR_CODES: Final = frozenset(
    {"ValidationException", "ItemCollectionSizeLimitExceededException"}
)


def error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", "Unknown"))


def describe_error(operation: str, err: Exception) -> str:
    if isinstance(err, ClientError):
        message = err.response.get("Error", {}).get("Message", "")
        return f"{operation} failed: {error_code(err)}: {message}"
    return f"{operation} failed: {type(err).__name__}: {err}"
