"""The write-side watcher with a scripted queue and a fake clock: drained after consecutive
empty polls, timeouts, estimates, and the dead-letter queue found from the redrive policy."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from rich.console import Console

from asynccopy.copy.progress import ProgressMode
from asynccopy.errors import InputError
from asynccopy.watch.display import WatchDisplay
from asynccopy.watch.watcher import QueueDepth, WatchUpdate, watch

QUEUE = "http://127.0.0.1:1/222222222222/q"
DLQ = "http://127.0.0.1:1/222222222222/q-dlq"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class ScriptedSqs:
    """Each poll of the queue takes the next (visible, in flight, dead letters) from the script;
    the last one repeats."""

    def __init__(self, script: list[tuple[int, int, int]], *, dlq: bool = True) -> None:
        self._script: Iterator[tuple[int, int, int]] = iter(script)
        self._last = script[0]
        self._dlq = dlq

    def get_queue_attributes(self, *, QueueUrl: str, AttributeNames: list[str]) -> Any:
        if AttributeNames == ["RedrivePolicy"]:
            if not self._dlq:
                return {"Attributes": {}}
            arn = "arn:aws:sqs:us-east-1:222222222222:q-dlq"
            return {"Attributes": {"RedrivePolicy": json.dumps({"deadLetterTargetArn": arn})}}
        if QueueUrl == QUEUE:
            self._last = next(self._script, self._last)
            visible, in_flight = self._last[:2]
        else:
            visible, in_flight = self._last[2], 0
        return {
            "Attributes": {
                "ApproximateNumberOfMessages": str(visible),
                "ApproximateNumberOfMessagesNotVisible": str(in_flight),
            }
        }

    def get_queue_url(self, *, QueueName: str, QueueOwnerAWSAccountId: str) -> Any:
        assert (QueueName, QueueOwnerAWSAccountId) == ("q-dlq", "222222222222")
        return {"QueueUrl": DLQ}


def test_drained_only_after_three_consecutive_empty_polls() -> None:
    sqs = ScriptedSqs(
        [(10, 2, 0), (4, 2, 0), (0, 0, 0), (3, 0, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0)]
    )
    clock = FakeClock()
    updates: list[WatchUpdate] = []
    result = watch(
        sqs, QUEUE, clock=clock, on_update=updates.append, poll_interval_s=2.0,
        items_per_message=25,
    )  # fmt: skip
    assert result.drained
    assert not result.timed_out
    assert result.polls == 7  # the empty poll before the 3 re-arms nothing: it is followed by 3
    assert [u.empty_polls for u in updates] == [0, 0, 1, 0, 1, 2, 3]
    # 12 -> 6 -> 0 drained 12; 0 -> 3 is a rise (late sends), 3 -> 0 drains 3 more.
    assert result.messages_drained == 15
    assert result.items_written_estimate == 15 * 25
    assert result.dead_letter_queue_url == DLQ
    assert clock.slept == [2.0] * 6  # no sleep after the last poll
    assert result.to_dict()["dead_letter_messages_added"] == 0


def test_rate_and_eta_come_from_the_messages_drained_so_far() -> None:
    sqs = ScriptedSqs([(100, 0, 0), (80, 0, 0)])
    clock = FakeClock()
    updates: list[WatchUpdate] = []
    watch(sqs, QUEUE, clock=clock, on_update=updates.append, timeout_s=3, poll_interval_s=2)
    first, second = updates
    assert (first.messages_per_s, first.eta_s) == (0.0, None)
    assert second.messages_per_s == 10.0  # 20 messages in 2 s
    assert second.eta_s == 8.0  # 80 left at 10/s
    assert second.items_written_estimate is None  # status does not know items per message
    assert "~" not in second.describe()
    assert "ETA 0:08" in second.describe()


def test_a_timeout_stops_before_the_poll_that_would_pass_it() -> None:
    sqs = ScriptedSqs([(5, 0, 0)])
    clock = FakeClock()
    result = watch(sqs, QUEUE, clock=clock, timeout_s=5, poll_interval_s=2)
    assert result.timed_out
    assert not result.drained
    assert result.polls == 3
    assert clock.now - 100.0 == 4.0


def test_one_look_without_until_drained() -> None:
    sqs = ScriptedSqs([(0, 0, 3)])
    clock = FakeClock()
    result = watch(sqs, QUEUE, clock=clock, until_drained=False)
    assert result.polls == 1
    assert clock.slept == []
    assert result.drained
    assert result.depth.dead_letters == 3
    assert result.dead_letters_at_start == 3
    assert result.dead_letters_added == 0


def test_dead_letters_added_during_the_watch_are_counted() -> None:
    sqs = ScriptedSqs([(2, 0, 1), (0, 0, 2), (0, 0, 2), (0, 0, 2)])
    result = watch(sqs, QUEUE, clock=FakeClock())
    assert result.drained
    assert result.dead_letters_added == 1


def test_without_a_redrive_policy_the_dead_letter_count_is_unknown() -> None:
    sqs = ScriptedSqs([(0, 0, 0)], dlq=False)
    result = watch(sqs, QUEUE, clock=FakeClock(), until_drained=False)
    assert result.depth.dead_letters is None
    assert "has no redrive policy" in result.why_no_dead_letter_queue
    assert "dead-letter unknown" in WatchUpdate(
        depth=result.depth, elapsed_s=0, messages_drained=0, items_written_estimate=None,
        messages_per_s=0, eta_s=None, empty_polls=1,
    ).describe()  # fmt: skip


def test_a_queue_that_cannot_be_read_is_bad_input() -> None:
    class Missing:
        def get_queue_attributes(self, **_: Any) -> Any:
            raise ClientError(
                {"Error": {"Code": "AWS.SimpleQueueService.NonExistentQueue"}}, "GetQueueAttributes"
            )

    with pytest.raises(InputError, match="NonExistentQueue") as caught:
        watch(Missing(), QUEUE, clock=FakeClock())  # type: ignore[arg-type]
    assert caught.value.hint


def _update(visible: int, *, drained: int = 0) -> WatchUpdate:
    return WatchUpdate(
        depth=QueueDepth(visible=visible, in_flight=0, dead_letters=0),
        elapsed_s=0,
        messages_drained=drained,
        items_written_estimate=None,
        messages_per_s=0,
        eta_s=None,
        empty_polls=0,
    )


def test_plain_lines_are_printed_every_few_seconds_not_every_poll() -> None:
    out = io.StringIO()
    console = Console(file=out, width=200, force_terminal=False)
    clock = FakeClock()
    with WatchDisplay(mode=ProgressMode.PLAIN, console=console, clock=clock) as display:
        for visible in (9, 8, 7, 6):
            display.update(_update(visible, drained=10 - visible))
            clock.sleep(2)
    lines = out.getvalue().splitlines()
    assert lines == [
        "status: waiting 9, in flight 0, dead-letter 0, drained 1 msgs, 0.0 msgs/s",
        "status: waiting 6, in flight 0, dead-letter 0, drained 4 msgs, 0.0 msgs/s",
    ]  # at 0 s and 6 s: the ones at 2 s and 4 s come within 5 s of the last line


def test_a_live_display_draws_the_latest_update_and_leaves_nothing_behind() -> None:
    out = io.StringIO()
    console = Console(file=out, width=200, force_terminal=True, color_system=None)
    with WatchDisplay(mode=ProgressMode.LIVE, console=console, clock=FakeClock()) as display:
        display.update(_update(3))
    drawn = out.getvalue()
    assert "status" in drawn
    assert "waiting 3 · in flight 0" in drawn
