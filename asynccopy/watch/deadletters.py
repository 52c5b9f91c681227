"""The dead-letter queue, read without consuming it, and moved back to its source queue.

In: a synchronous SQS client, the dead-letter queue's URL, the destination table's key names
(optional: an item the consumer rejected carries its key in the `asynccopy-key` attribute; only
a whole message the redrive policy moved needs the table's key schema to name its items' keys).
Out: `DeadLetterListing` (one row per key and reason, with a count) and `RedriveResult`.

Reading: every message is received with a visibility timeout (so no message is counted twice)
and, once all are seen, made visible again with ChangeMessageVisibility 0; if the listing is
interrupted, SQS makes them visible when the timeout ends. A receive adds one to a message's
ApproximateReceiveCount, so "failed N receives" subtracts this listing's own receive.

Redrive: SQS StartMessageMoveTask where the service has it; else (the sandbox) one message at
a time: receive, send to the source queue, and only then delete, so an interruption can leave a
duplicate (a second write of the same item) but never lose one.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from asynccopy.errors import InputError
from asynccopy.retry import error_code
from consumer.dead_letters import ERROR_CODE_ATTRIBUTE, ERROR_MESSAGE_ATTRIBUTE, KEY_ATTRIBUTE
from consumer.wire import CodecError, decode_body, key_to_text

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

# Long enough to receive every message of a large listing before any reappears (SQS allows
# up to 12 hours); the messages are made visible again at once when the listing ends.
LISTING_VISIBILITY_S: Final = 300
# A listing holds every receipt handle in memory: it stops here and says so.
MAX_LISTED_MESSAGES: Final = 10_000
# Receives that return nothing before the queue counts as read (SQS samples servers: one empty
# short-poll receive does not prove the queue is empty).
_EMPTY_RECEIVES: Final = 2
_MOVE_TASK_UNSUPPORTED: Final = frozenset(
    {
        "InvalidAction",
        "UnknownOperationException",
        "UnsupportedOperation",
        "AWS.SimpleQueueService.UnsupportedOperation",
    }
)


@dataclass(frozen=True, kw_only=True, slots=True)
class DeadLetterRow:
    # key_to_text of the item's key; None: not known (the body could not be decoded, the item
    # lacks a key, or no key names were given and the message carries no asynccopy-key)
    key: str | None
    reason: str
    count: int  # items with this key and reason (messages, where the body cannot be decoded)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "reason": self.reason, "count": self.count}


@dataclass(frozen=True, kw_only=True, slots=True)
class DeadLetterListing:
    queue_url: str
    messages: int
    items: int
    rows: tuple[DeadLetterRow, ...]
    truncated: bool  # stopped at MAX_LISTED_MESSAGES
    # Messages whose items' keys were not named: no key names were given and the message has
    # no asynccopy-key (a whole message the redrive policy moved).
    unnamed_messages: int = 0

    @property
    def keys(self) -> list[str]:
        """Each decoded key once, in the order first seen."""
        return list(dict.fromkeys(row.key for row in self.rows if row.key is not None))

    def to_json(self) -> str:
        return json.dumps(
            {
                "dead_letter_queue_url": self.queue_url,
                "messages": self.messages,
                "items": self.items,
                "truncated": self.truncated,
                "unnamed_messages": self.unnamed_messages,
                "rows": [row.to_dict() for row in self.rows],
            },
            sort_keys=True,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class RedriveResult:
    dead_letter_queue_url: str
    move_task_handle: str | None  # SQS moves the messages itself: nothing was counted here
    messages_moved: int = 0
    left_without_source: int = 0  # messages that name no source queue and no --to was given
    destinations: tuple[str, ...] = field(default=())

    def to_json(self) -> str:
        return json.dumps(
            {
                "dead_letter_queue_url": self.dead_letter_queue_url,
                "move_task_handle": self.move_task_handle,
                "messages_moved": self.messages_moved,
                "left_without_source": self.left_without_source,
                "destinations": list(self.destinations),
            },
            sort_keys=True,
        )


def _sqs_error(queue_url: str, exc: BaseException, action: str) -> InputError:
    return InputError(
        f"cannot {action} queue {queue_url}: {error_code(exc)}",
        hint="check --queue-url, the region and your credentials (the queue's sqs:* permissions)",
    )


def check_is_dead_letter_queue(sqs: SQSClient, queue_url: str) -> str:
    """The queue's ARN; an InputError if it has a redrive policy of its own (a source queue)."""
    try:
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["QueueArn", "RedrivePolicy"]
        )["Attributes"]
    except (BotoCoreError, ClientError) as exc:
        raise _sqs_error(queue_url, exc, "read") from exc
    if attributes.get("RedrivePolicy"):
        from asynccopy.consume.queues import find_dead_letter_queue

        target = find_dead_letter_queue(sqs, queue_url)
        where = f": its dead-letter queue is {target.url}" if target.url else ""
        raise InputError(
            f"queue {queue_url} is not a dead-letter queue, it has a redrive policy{where}",
            hint="pass the dead-letter queue's URL (`asynccopy status --queue-url` shows it)",
        )
    return str(attributes.get("QueueArn", ""))


def _attribute(message: Any, name: str) -> str | None:
    value = message.get("MessageAttributes", {}).get(name)
    return None if value is None else str(value.get("StringValue", ""))


def _reason(message: Any) -> str:
    code = _attribute(message, ERROR_CODE_ATTRIBUTE)
    if code is not None:
        text = _attribute(message, ERROR_MESSAGE_ATTRIBUTE) or ""
        return f"rejected: {code}: {text}" if text else f"rejected: {code}"
    receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
    return f"failed {max(0, receives - 1)} receives"


def _named_key(message: Any) -> str | None:
    """The key the consumer wrote in the message's asynccopy-key attribute, if it is one."""
    text = _attribute(message, KEY_ATTRIBUTE)
    if text is None:
        return None
    try:
        key = json.loads(text)
    except ValueError:
        return None
    return text if isinstance(key, dict) and key else None


def _keys(body: str, key_names: Sequence[str] | None) -> list[str | None] | str:
    """The key of each item of the body (None for each without key names), or why the body
    cannot be read."""
    try:
        items = decode_body(body)
    except CodecError as exc:
        return str(exc)
    keys: list[str | None] = []
    for item in items:
        if key_names is not None and all(name in item for name in key_names):
            keys.append(key_to_text({name: item[name] for name in key_names}))
        else:
            keys.append(None)
    return keys


def _rows_of(
    message: Any, key_names: Sequence[str] | None
) -> tuple[list[tuple[str | None, str]], int, bool]:
    """(key, reason) per item of the message (one for a body that cannot be decoded), its
    number of items, and whether its keys went unnamed for want of key names."""
    reason = _reason(message)
    keys = _keys(message.get("Body", ""), key_names)
    if isinstance(keys, str):
        return [(None, f"{reason}; {keys}")], 0, False
    named = _named_key(message)
    if named is not None and len(keys) == 1:  # a rejected item: a message of its own
        if key_names is None or keys[0] is None:
            return [(named, reason)], 1, False
        if keys[0] != named:
            reason = f"{reason}; the consumer named its key {named}: is --table its table?"
        return [(keys[0], reason)], 1, False
    if key_names is None:
        return [(None, f"{reason}; key not known without --table")] * len(keys), len(keys), True
    rows = [(key, reason if key is not None else f"{reason}; the item lacks a key") for key in keys]
    return rows, len(keys), False


def _receive(sqs: SQSClient, queue_url: str, *, visibility_s: int) -> list[Any]:
    try:
        return list(
            sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                VisibilityTimeout=visibility_s,
                MessageAttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
            ).get("Messages", [])
        )
    except (BotoCoreError, ClientError) as exc:
        raise _sqs_error(queue_url, exc, "receive from") from exc


def _release(sqs: SQSClient, queue_url: str, handles: Sequence[str]) -> None:
    """Make received messages visible again now (ChangeMessageVisibilityBatch: 10 a call)."""
    for start in range(0, len(handles), 10):
        entries = [
            {"Id": str(n), "ReceiptHandle": handle, "VisibilityTimeout": 0}
            for n, handle in enumerate(handles[start : start + 10])
        ]
        sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)  # type: ignore[arg-type]


def list_dead_letters(
    sqs: SQSClient,
    queue_url: str,
    *,
    key_names: Sequence[str] | None,
    max_messages: int = MAX_LISTED_MESSAGES,
) -> DeadLetterListing:
    """What the dead-letter queue holds, each message left in it and visible again; without
    key_names, only the keys the consumer named in its messages' asynccopy-key."""
    check_is_dead_letter_queue(sqs, queue_url)
    seen: dict[str, Any] = {}
    handles: list[str] = []
    try:
        empty = 0
        while empty < _EMPTY_RECEIVES and len(seen) < max_messages:
            messages = _receive(sqs, queue_url, visibility_s=LISTING_VISIBILITY_S)
            empty = 0 if messages else empty + 1
            for message in messages:
                handles.append(message["ReceiptHandle"])
                seen.setdefault(message["MessageId"], message)
    finally:
        _release(sqs, queue_url, handles)
    counts: Counter[tuple[str | None, str]] = Counter()
    items = 0
    unnamed = 0
    for message in seen.values():
        rows_of, items_of, unnamed_of = _rows_of(message, key_names)
        counts.update(rows_of)
        items += items_of
        unnamed += unnamed_of
    rows = tuple(
        DeadLetterRow(key=key, reason=reason, count=count)
        for (key, reason), count in counts.items()
    )
    return DeadLetterListing(
        queue_url=queue_url,
        messages=len(seen),
        items=items,
        rows=rows,
        truncated=len(seen) >= max_messages,
        unnamed_messages=unnamed,
    )


def _queue_url_of_arn(sqs: SQSClient, arn: str) -> str | None:
    try:
        _, _, _, _, account, name = arn.split(":", 5)
        return sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
    except (ValueError, BotoCoreError, ClientError):
        return None


def _start_move_task(sqs: SQSClient, source_arn: str, destination_arn: str | None) -> str | None:
    """The task's handle, or None where the service lacks StartMessageMoveTask."""
    try:
        if destination_arn is None:
            reply = sqs.start_message_move_task(SourceArn=source_arn)
        else:
            reply = sqs.start_message_move_task(
                SourceArn=source_arn, DestinationArn=destination_arn
            )
    except ClientError as exc:
        if error_code(exc) in _MOVE_TASK_UNSUPPORTED:
            return None
        raise InputError(
            f"cannot start moving the messages of {source_arn}: {error_code(exc)}",
            hint="the caller needs sqs:StartMessageMoveTask, sqs:ReceiveMessage, "
            "sqs:DeleteMessage and sqs:GetQueueAttributes on the dead-letter queue and "
            "sqs:SendMessage on the source queue",
        ) from exc
    return str(reply.get("TaskHandle", ""))


def _queue_arn(sqs: SQSClient, queue_url: str) -> str:
    try:
        return str(
            sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
        )
    except (BotoCoreError, ClientError, KeyError) as exc:
        raise InputError(
            f"cannot read queue {queue_url}: {error_code(exc)}",
            hint="check --to: the source queue's URL, in the same region and account",
        ) from exc


def redrive(
    sqs: SQSClient,
    queue_url: str,
    *,
    to_url: str | None,
    use_move_task: bool = True,
    on_moved: Callable[[int], None] = lambda moved: None,
) -> RedriveResult:
    """Move every message of the dead-letter queue `queue_url` to `to_url`, or each to the
    queue it came from (its DeadLetterQueueSourceArn)."""
    dlq_arn = check_is_dead_letter_queue(sqs, queue_url)
    to_arn = _queue_arn(sqs, to_url) if to_url is not None else None
    if use_move_task:
        handle = _start_move_task(sqs, dlq_arn, to_arn)
        if handle is not None:
            return RedriveResult(dead_letter_queue_url=queue_url, move_task_handle=handle)
    moved = 0
    left: list[str] = []
    sources: dict[str, str | None] = {}
    empty = 0
    try:
        while empty < _EMPTY_RECEIVES:
            messages = _receive(sqs, queue_url, visibility_s=60)
            empty = 0 if messages else empty + 1
            for message in messages:
                destination = to_url
                if destination is None:
                    arn = message.get("Attributes", {}).get("DeadLetterQueueSourceArn")
                    if arn and arn not in sources:
                        sources[arn] = _queue_url_of_arn(sqs, arn)
                    destination = sources.get(arn) if arn else None
                if destination is None:
                    left.append(message["ReceiptHandle"])
                    continue
                attributes = message.get("MessageAttributes", {})
                try:
                    if attributes:
                        sqs.send_message(
                            QueueUrl=destination,
                            MessageBody=message["Body"],
                            MessageAttributes=attributes,
                        )
                    else:
                        sqs.send_message(QueueUrl=destination, MessageBody=message["Body"])
                    # Deleted only once the source queue has it: nothing is lost.
                    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                except (BotoCoreError, ClientError) as exc:
                    raise _sqs_error(destination, exc, "move a message to") from exc
                moved += 1
                on_moved(moved)
    finally:
        _release(sqs, queue_url, left)
    used = {to_url} if to_url else {url for url in sources.values() if url}
    return RedriveResult(
        dead_letter_queue_url=queue_url,
        move_task_handle=None,
        messages_moved=moved,
        left_without_source=len(left),
        destinations=tuple(sorted(used)),
    )
