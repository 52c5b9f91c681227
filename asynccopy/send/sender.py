"""Sending packed messages to SQS, and the dry-run sender that stands in for it.

Both senders take one SendMessageBatch's worth of messages (<= 10 entries, each <= the queue's
MaximumMessageSize, <= SEND_BATCH_MAX_BYTES in total) and return the same `SendResult`, so
the pipeline never asks whether this is a dry run (the aws-cli `s3` way).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Final, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from asynccopy.errors import FifoQueueError, InputError, QueueNotFoundError
from asynccopy.retry import Backoff, call_with_retries, error_code, is_retryable, is_throttling
from asynccopy.send.packing import DEFAULT_MAX_MESSAGE_BYTES, Message

# SQS bills each 64 KB chunk of a request's payload as one request.
SQS_BILLING_CHUNK_BYTES: Final = 65_536
# SendMessageBatch: "the maximum total payload size (the sum of the individual lengths of all
# of the batched messages)" is 1 MiB (SQS API reference, since August 2025), whatever the
# queue's MaximumMessageSize, which caps each message only.
SEND_BATCH_MAX_BYTES: Final = 1_048_576
_QUEUE_MISSING_CODES: Final = frozenset(
    {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "InvalidAddress"}
)
_DENIED_CODES: Final = frozenset({"AccessDenied", "AccessDeniedException", "AuthorizationError"})


@dataclass(frozen=True, kw_only=True, slots=True)
class FailedMessage:
    message: Message
    code: str
    sender_fault: bool  # True: the request was wrong (not retried); False: retries ran out


@dataclass(frozen=True, kw_only=True, slots=True)
class SendResult:
    sent: tuple[Message, ...]
    failed: tuple[FailedMessage, ...] = ()
    retries: int = 0
    throttles: int = 0
    calls: int = 0  # SendMessageBatch requests made (or that would be made)
    request_units: int = 0  # 64 KB billing units of those requests
    dry_run: bool = False


class Sender(Protocol):
    async def send(self, batch: Sequence[Message]) -> SendResult: ...


def request_units_for_bytes(total_bytes: int) -> int:
    """SQS bills a request per started 64 KB chunk of its payload, at least one."""
    return max(1, -(-total_bytes // SQS_BILLING_CHUNK_BYTES))


def request_units(batch: Sequence[Message]) -> int:
    return request_units_for_bytes(sum(message.size_bytes for message in batch))


class SqsSender:
    """SendMessageBatch; `Failed` entries retried with backoff when the service is at fault."""

    def __init__(self, client: Any, *, queue_url: str, backoff: Backoff) -> None:
        self._client = client
        self._queue_url = queue_url
        self._backoff = backoff

    async def send(self, batch: Sequence[Message]) -> SendResult:
        pending = {str(index): message for index, message in enumerate(batch)}
        sent: list[Message] = []
        failed: list[FailedMessage] = []
        retries = throttles = calls = units = 0
        last_code = "ServiceFault"
        attempts = self._backoff.policy.max_attempts
        for attempt in range(attempts):
            if attempt:
                retries += 1
                await self._backoff.wait(attempt - 1)
            entries = [{"Id": id_, "MessageBody": m.body} for id_, m in pending.items()]
            calls += 1
            units += request_units(list(pending.values()))
            try:
                reply = await self._client.send_message_batch(
                    QueueUrl=self._queue_url, Entries=entries
                )
            except (ClientError, BotoCoreError) as exc:
                # BotoCoreError: a connection botocore's own retries gave up on. Its messages
                # may have been enqueued; sending them again risks only a duplicate.
                last_code = error_code(exc)
                throttles += is_throttling(exc)
                if is_retryable(exc):
                    continue
                failed += [
                    FailedMessage(message=m, code=last_code, sender_fault=True)
                    for m in pending.values()
                ]
                pending = {}
                break
            for entry in reply.get("Successful", []):
                sent.append(pending.pop(entry["Id"]))
            for entry in reply.get("Failed", []):
                last_code = entry.get("Code", "Unknown")
                if entry.get("SenderFault", False):
                    failed.append(
                        FailedMessage(
                            message=pending.pop(entry["Id"]), code=last_code, sender_fault=True
                        )
                    )
            if not pending:
                break
        failed += [
            FailedMessage(message=m, code=last_code, sender_fault=False) for m in pending.values()
        ]
        return SendResult(
            sent=tuple(sent),
            failed=tuple(failed),
            retries=retries,
            throttles=throttles,
            calls=calls,
            request_units=units,
        )


class DryRunSender:
    """Accepts every batch and sends nothing: what would have been sent, counted the same way."""

    def __init__(self) -> None:
        self.batches: list[Sequence[Message]] = []

    async def send(self, batch: Sequence[Message]) -> SendResult:
        self.batches.append(batch)
        return SendResult(
            sent=tuple(batch), calls=1, request_units=request_units(batch), dry_run=True
        )


async def queue_max_message_bytes(
    client: Any, *, queue_url: str, backoff: Backoff | None = None
) -> int:
    """The queue's MaximumMessageSize; 256 KiB if reading it is denied; InputError if no queue,
    FifoQueueError if it is a FIFO queue (found before anything is read or sent)."""
    try:
        reply = await call_with_retries(
            partial(
                client.get_queue_attributes,
                QueueUrl=queue_url,
                AttributeNames=["MaximumMessageSize", "FifoQueue"],
            ),
            backoff=backoff or Backoff(),
        )
    except ClientError as exc:
        code = error_code(exc)
        if code in _DENIED_CODES:
            return DEFAULT_MAX_MESSAGE_BYTES
        if code in _QUEUE_MISSING_CODES or "NonExistentQueue" in code:
            raise QueueNotFoundError(queue_url=queue_url, code=code) from exc
        raise InputError(
            f"cannot reach queue {queue_url}: {code}",
            hint="check --queue-url and that the queue policy allows the source account",
        ) from exc
    except ValueError as exc:  # botocore rejects a malformed URL before sending
        raise QueueNotFoundError(queue_url=queue_url, code=type(exc).__name__) from exc
    except BotoCoreError as exc:  # no answer at all, even after every retry
        raise InputError(
            f"cannot reach queue {queue_url}: {error_code(exc)}",
            hint="check --queue-url, --queue-endpoint-url and the network",
        ) from exc
    attributes = reply.get("Attributes", {})
    if attributes.get("FifoQueue") == "true":
        raise FifoQueueError(queue_url=queue_url)
    text = attributes.get("MaximumMessageSize")
    return int(text) if text else DEFAULT_MAX_MESSAGE_BYTES
