"""`copy --wait`: the write side watched after the last send, against the sandbox, as a user
runs it (the consumer is `asynccopy consume`, started once the sends are done)."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

from tests.consumer_helpers import TABLE, count_items, seed_source, send_bodies, shorten_redrive
from tests.sandbox_helpers import DEST_ACCOUNT, Sandbox

WAITING = "write side: waiting "


def _consume(sandbox: Sandbox, queue_url: str) -> int:
    return sandbox.run_cli(
        *("consume", "--queue-url", queue_url, "--table", TABLE, "--until-empty"),
        *("--wait-time-seconds", "1", "--no-progress"),
        account=DEST_ACCOUNT,
        timeout_s=120,
    ).returncode


def _start_copy(sandbox: Sandbox, queue_url: str, *flags: str) -> subprocess.Popen[str]:
    return sandbox.start_cli(
        *("copy", "--table", TABLE, "--queue-url", queue_url, "--scan", "--no-checkpoint"),
        *("--wait", *flags),
    )


def _until_waiting(process: subprocess.Popen[str]) -> list[str]:
    """stderr read up to the first line of the write side: every message is sent by then."""
    assert process.stderr is not None
    lines = []
    for line in process.stderr:
        lines.append(line)
        if line.startswith(WAITING):
            return lines
    raise AssertionError(f"the copy never waited: {''.join(lines)}")


def _finish(process: subprocess.Popen[str]) -> tuple[int, dict[str, object], str]:
    """Exit code, the --json summary, stderr."""
    assert process.stdout is not None
    assert process.stderr is not None
    process.wait(timeout=120)
    stdout, stderr = process.stdout.read(), process.stderr.read()
    return process.returncode, json.loads(stdout), stderr


def _finish_text(process: subprocess.Popen[str]) -> tuple[int, str]:
    """Exit code, the text summary (stdout) and stderr."""
    assert process.stdout is not None
    assert process.stderr is not None
    process.wait(timeout=120)
    return process.returncode, process.stdout.read() + process.stderr.read()


def test_copy_wait_watches_the_queue_until_the_consumer_drained_it(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    seeded = seed_source(sandbox, tmp_path, items=120, item_bytes=200)
    with _start_copy(sandbox, seeded.queue_url, "--json") as process:
        first = _until_waiting(process)[-1]
        # No consumer yet: all 5 messages (25 items each) wait on the queue.
        assert first.startswith("write side: waiting 5, in flight 0, dead-letter 0"), first
        assert _consume(sandbox, seeded.queue_url) == 0
        code, summary, stderr = _finish(process)
    assert code == 0, stderr
    side = summary["write_side"]
    assert isinstance(side, dict)
    assert side["drained"] is True
    assert side["timed_out"] is False
    assert (side["messages_waiting"], side["messages_in_flight"]) == (0, 0)
    assert side["dead_letter_queue_url"] == seeded.dlq_url
    assert (side["dead_letter_messages_before"], side["dead_letter_messages_added"]) == (0, 0)
    assert side["messages_drained"] == 5
    assert side["items_written_estimate"] == 120
    assert count_items(sandbox.dest("dynamodb")) == 120


def test_copy_wait_exits_1_when_the_dead_letter_queue_grew(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    seeded = seed_source(sandbox, tmp_path, items=30, item_bytes=200)
    with _start_copy(sandbox, seeded.queue_url) as process:
        _until_waiting(process)
        assert _consume(sandbox, seeded.queue_url) == 0  # the copy's 2 messages: written
        # Then a message no consumer can decode, moved to the DLQ after its one receive.
        shorten_redrive(sandbox, seeded, visibility_s=1, max_receives=1)
        send_bodies(sandbox.dest("sqs"), seeded.queue_url, ["not a message"])
        assert _consume(sandbox, seeded.queue_url) == 1
        code, output = _finish_text(process)
    assert code == 1, output
    assert "write side: drained: 0 waiting, 0 in flight" in output
    assert "dead-letter queue grew by 1 messages during the copy" in output
    assert f"asynccopy dlq --queue-url {seeded.dlq_url}" in output


def test_copy_wait_timeout_exits_1_and_says_so(sandbox: Sandbox, tmp_path: Path) -> None:
    seeded = seed_source(sandbox, tmp_path, items=10, item_bytes=200)
    with _start_copy(sandbox, seeded.queue_url, "--wait-timeout", "1", "--json") as process:
        code, summary, stderr = _finish(process)
    assert code == 1, stderr
    side = summary["write_side"]
    assert isinstance(side, dict)
    assert (side["timed_out"], side["drained"], side["messages_waiting"]) == (True, False, 1)
    assert summary["items_sent"] == 10  # the copy itself is complete


def test_copy_wait_exits_130_on_ctrl_c_and_says_the_copy_is_complete(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    seeded = seed_source(sandbox, tmp_path, items=10, item_bytes=200)
    with _start_copy(sandbox, seeded.queue_url) as process:
        _until_waiting(process)
        process.send_signal(signal.SIGINT)
        code, output = _finish_text(process)
    assert code == 130, output
    assert "copy done: 10 of 10 items sent" in output
    assert "stopped watching (Ctrl-C); the copy itself is complete" in output
