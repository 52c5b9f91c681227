"""SendMessageBatch with a fake client: service faults retried, sender faults reported by key."""

from __future__ import annotations

import random
from typing import Any

import anyio
import pytest
from botocore.exceptions import ClientError

from asynccopy.copy.pipeline import record_send
from asynccopy.copy.stats import Stats
from asynccopy.retry import Backoff, RetryPolicy
from asynccopy.send.packing import Message, MessagePacker
from asynccopy.send.sender import DryRunSender, SendResult, SqsSender, request_units


def messages(count: int) -> list[Message]:
    packer = MessagePacker(key_names=["id"], max_items=1)
    out: list[Message] = []
    for n in range(count):
        out += packer.add({"id": {"S": f"k{n}"}, "v": {"N": str(n)}})
    return out


class FakeSqs:
    """Replies from a script: per call, the entry Ids to fail and how."""

    def __init__(self, script: list[dict[str, tuple[str, bool]] | str]) -> None:
        self.script = list(script)
        self.calls: list[list[str]] = []

    async def send_message_batch(self, **kwargs: Any) -> dict[str, Any]:
        assert kwargs["QueueUrl"] == "https://q"
        ids = [entry["Id"] for entry in kwargs["Entries"]]
        self.calls.append(ids)
        step = self.script.pop(0) if self.script else {}
        if isinstance(step, str):
            raise ClientError({"Error": {"Code": step, "Message": "m"}}, "SendMessageBatch")
        failed = [
            {"Id": id_, "Code": code, "SenderFault": sender, "Message": "m"}
            for id_, (code, sender) in step.items()
            if id_ in ids
        ]
        return {
            "Successful": [{"Id": id_, "MessageId": "x"} for id_ in ids if id_ not in step],
            "Failed": failed,
        }


def send(
    client: FakeSqs, batch: list[Message], attempts: int = 8
) -> tuple[SendResult, list[float]]:
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    backoff = Backoff(
        policy=RetryPolicy(max_attempts=attempts), sleep=sleep, random=random.Random(2).random
    )
    sender = SqsSender(client, queue_url="https://q", backoff=backoff)

    async def main() -> SendResult:
        return await sender.send(batch)

    return anyio.run(main), delays


def test_service_faults_are_retried_until_sent() -> None:
    batch = messages(5)
    client = FakeSqs(
        [
            {"1": ("InternalError", False), "3": ("ServiceUnavailable", False)},
            {"3": ("InternalError", False)},
        ]
    )
    result, delays = send(client, batch)
    assert client.calls == [["0", "1", "2", "3", "4"], ["1", "3"], ["3"]]
    assert sorted(m.body for m in result.sent) == sorted(m.body for m in batch)
    assert result.failed == ()
    assert result.retries == 2
    assert len(delays) == 2
    assert result.calls == 3


def test_sender_faults_are_reported_not_retried() -> None:
    batch = messages(3)
    client = FakeSqs([{"0": ("InvalidMessageContents", True), "2": ("InternalError", False)}])
    result, _ = send(client, batch)
    assert client.calls == [["0", "1", "2"], ["2"]]
    assert [f.message for f in result.failed] == [batch[0]]
    assert result.failed[0].code == "InvalidMessageContents"
    assert result.failed[0].sender_fault is True
    stats = Stats()
    record_send(stats, result)
    assert stats.items_sent == 2
    assert stats.items_failed == 1
    assert stats.failed_sample[0].key == {"id": {"S": "k0"}}
    assert stats.failed_sample[0].reason == "InvalidMessageContents"


def test_service_faults_give_up_after_the_last_attempt() -> None:
    batch = messages(2)
    client = FakeSqs([{"1": ("InternalError", False)}] * 10)
    result, delays = send(client, batch, attempts=3)
    assert len(client.calls) == 3
    assert [f.message for f in result.failed] == [batch[1]]
    assert result.failed[0].sender_fault is False
    assert len(delays) == 2


def test_whole_call_throttling_is_retried_and_access_denied_is_not() -> None:
    batch = messages(2)
    result, _ = send(FakeSqs(["ThrottlingException", {}]), batch)
    assert sorted(m.body for m in result.sent) == sorted(m.body for m in batch)
    assert result.throttles == 1
    client = FakeSqs(["AccessDenied"])
    result, _ = send(client, batch)
    assert len(client.calls) == 1
    assert {f.code for f in result.failed} == {"AccessDenied"}


def test_dry_run_sender_produces_the_same_results_and_sends_nothing() -> None:
    batch = messages(4)
    sender = DryRunSender()

    async def main() -> SendResult:
        return await sender.send(batch)

    result = anyio.run(main)
    assert result.sent == tuple(batch)
    assert result.dry_run
    assert result.request_units == request_units(batch) == 1
    stats = Stats()
    record_send(stats, result)
    assert stats.items_sent == 0
    assert stats.items_dry_run == 4
    assert stats.messages_sent == 0


@pytest.mark.parametrize(("sizes", "units"), [([10], 1), ([65_536], 1), ([65_536, 1], 2)])
def test_request_units_are_64_kb_chunks(sizes: list[int], units: int) -> None:
    batch = [Message(body="", keys=(), size_bytes=size) for size in sizes]
    assert request_units(batch) == units
