"""`copy --max-queue-depth N`: the gate (a fake clock, a scripted queue) and the copy against
the sandbox with a consumer slower than the producer (none at first, then `asynccopy consume`)."""

from __future__ import annotations

import json
from pathlib import Path

import anyio

from asynccopy.copy.backpressure import QueueDepthGate
from asynccopy.copy.stats import Stats
from tests.consumer_helpers import TABLE, count_items, queue_counts, seed_sandbox
from tests.sandbox_helpers import DEST_ACCOUNT, Sandbox


class _FakeTime:
    def __init__(self) -> None:
        self.now_s = 0.0

    def clock(self) -> float:
        return self.now_s

    async def sleep(self, seconds: float) -> None:
        self.now_s += seconds


def test_gate_pauses_while_the_queue_is_too_deep_and_reopens_as_it_drains() -> None:
    depths = iter([9, 7, 3])
    time, stats = _FakeTime(), Stats()
    paused: list[str | None] = []

    async def read_depth() -> int:
        paused.append(stats.paused)
        return next(depths)

    gate = QueueDepthGate(read_depth, max_depth=5, stats=stats, clock=time.clock, sleep=time.sleep)

    async def wait() -> None:
        with anyio.fail_after(5):  # a gate that never opens fails instead of hanging
            await gate.wait_open()

    anyio.run(wait)
    assert gate.polls == 3
    assert paused == [None, "queue depth 9 > 5", "queue depth 7 > 5"]
    assert stats.paused is None  # open again
    assert time.now_s == 2.0  # polled once a second while paused


def test_gate_counts_what_was_read_and_sent_since_the_last_poll() -> None:
    time, stats = _FakeTime(), Stats()

    async def read_depth() -> int:
        return 2

    gate = QueueDepthGate(read_depth, max_depth=5, stats=stats, clock=time.clock)

    async def estimates() -> list[int]:
        first = await gate.estimate()
        gate.note_read(300)  # 12 messages of 25 items, not yet sent
        read = await gate.estimate()
        stats.items_sent, stats.messages_sent = 300, 12  # now on the queue
        sent = await gate.estimate()
        return [first, read, sent]

    # Read and not sent: counted beyond the one batch the packer may hold back.
    assert anyio.run(estimates) == [2, 2 + 12 - 10, 2 + 12]
    assert gate.polls == 1  # all within the poll interval


def _consume(sandbox: Sandbox, queue_url: str) -> None:
    done = sandbox.run_cli(
        *("consume", "--queue-url", queue_url, "--table", TABLE, "--until-empty"),
        *("--wait-time-seconds", "1", "--no-progress"),
        account=DEST_ACCOUNT,
        timeout_s=120,
    )
    assert done.returncode == 0, done.stderr


def test_copy_pauses_at_max_queue_depth_and_resumes_as_the_consumer_drains(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    seeded = seed_sandbox(sandbox, tmp_path, items=400, item_bytes=200)
    max_depth, readers = 4, 2
    process = sandbox.start_cli(
        *("copy", "--table", TABLE, "--queue-url", seeded.queue_url, "--keys"),
        *(str(seeded.keys_out), "--no-checkpoint", "--json"),
        *("--max-queue-depth", str(max_depth), "--concurrency", str(readers)),
    )
    with process:
        assert process.stderr is not None
        assert process.stdout is not None
        # No consumer: the copy fills the queue to the limit, then waits.
        for line in process.stderr:
            if "| paused: queue depth " in line:
                break
        else:
            raise AssertionError("the copy never paused")
        assert f" > {max_depth}" in line
        visible, in_flight = queue_counts(sandbox, seeded.queue_url)
        # Past the limit: at most the packer's batch and a page (100 keys: 4 messages of 25
        # items) per reader.
        assert max_depth < visible + in_flight <= max_depth + 10 * readers
        deepest = visible + in_flight
        while process.poll() is None:
            _consume(sandbox, seeded.queue_url)
            deepest = max(deepest, sum(queue_counts(sandbox, seeded.queue_url)))
        _consume(sandbox, seeded.queue_url)
        summary = json.loads(process.stdout.read())
        process.stderr.read()
    assert process.returncode == 0
    assert deepest <= max_depth + 10 * readers
    assert summary["items_sent"] == 400
    assert count_items(sandbox.dest("dynamodb")) == 400
