"""`asynccopy consume`, driven as a user runs it, against real queues and tables in the sandbox."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path

import pytest
from rich.console import Console

from asynccopy.consume.config import RunnerConfig
from asynccopy.consume.events import RunnerContext
from asynccopy.consume.progress import Progress
from asynccopy.consume.runner import UNTIL_EMPTY_WAIT_S, build_runner
from asynccopy.consume.stats import RunStats
from asynccopy.copy.progress import ProgressMode
from asynccopy.sandbox import account_env
from consumer.config import ConsumerEngine
from consumer.results import BatchSummary, MessageResult
from tests.consumer_helpers import (
    TABLE,
    assert_same_items,
    bodies_for,
    scan_all,
    seed_and_send,
    seed_source,
    send_bodies,
    shorten_redrive,
)
from tests.sandbox_helpers import DEST_ACCOUNT, Sandbox

POISON = '{"v":7,"items":[]}'


def consume(sandbox: Sandbox, queue_url: str, *extra: str) -> tuple[int, dict[str, object], str]:
    done = sandbox.run_cli(
        "consume",
        "--queue-url",
        queue_url,
        "--table",
        "users",
        "--until-empty",
        "--wait-time-seconds",
        "1",
        "--json",
        *extra,
        account=DEST_ACCOUNT,
        timeout_s=120,
    )
    assert done.stdout.strip(), done.stderr
    return done.returncode, json.loads(done.stdout), done.stderr


@pytest.mark.timeout(180)
def test_consume_until_empty_writes_everything_and_dead_letters_the_poison(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    seeded = seed_and_send(sandbox, tmp_path, items=1500, extra=[POISON])
    # 5 s: long enough that a busy machine still writes a healthy batch within its half of it
    # (every call of the batch must end within those 2.5 s, not merely start).
    shorten_redrive(sandbox, seeded, visibility_s=5, max_receives=2)

    code, summary, stderr = consume(sandbox, seeded.queue_url, "--concurrency", "3")

    assert code == 1, stderr  # a message failed
    assert_same_items(seeded.items, scan_all(sandbox.dest("dynamodb")))
    assert summary["items_written"] == 1500
    assert summary["messages_deleted"] == 60
    assert summary["messages_failed"] == 2, stderr  # received twice, then moved to the DLQ
    assert "unsupported format version 7" in stderr
    sqs = sandbox.dest("sqs")
    dead = sqs.receive_message(QueueUrl=seeded.dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in dead] == [POISON]
    attributes = sqs.get_queue_attributes(QueueUrl=seeded.queue_url, AttributeNames=["All"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"


@pytest.mark.timeout(180)
def test_consume_skip_existing_twice_reports_skips_and_changes_nothing(
    sandbox: Sandbox, tmp_path: Path, consumer_engine: ConsumerEngine
) -> None:
    seeded = seed_and_send(sandbox, tmp_path, items=1000)
    engine = ("--engine", consumer_engine)
    code, first, stderr = consume(sandbox, seeded.queue_url, "--mode", "skip-existing", *engine)
    assert code == 0, stderr
    assert (first["items_written"], first["items_skipped"]) == (1000, 0)

    send_bodies(sandbox.dest("sqs"), seeded.queue_url, bodies_for(seeded.items))
    code, second, stderr = consume(sandbox, seeded.queue_url, "--mode", "skip-existing", *engine)
    assert code == 0, stderr
    assert (second["items_written"], second["items_skipped"]) == (0, 1000)
    assert "1000 skipped" in stderr
    assert_same_items(seeded.items, scan_all(sandbox.dest("dynamodb")))


def test_consume_names_a_missing_table_and_exits_2(sandbox: Sandbox, tmp_path: Path) -> None:
    seeded = seed_and_send(sandbox, tmp_path, items=10)
    done = sandbox.run_cli(
        "consume",
        "--queue-url",
        seeded.queue_url,
        "--table",
        "nope",
        "--until-empty",
        account=DEST_ACCOUNT,
    )
    assert done.returncode == 2
    assert "cannot describe table 'nope'" in done.stderr


def test_consume_rejects_a_bad_mode(sandbox: Sandbox) -> None:
    done = sandbox.run_cli(
        "consume",
        "--queue-url",
        "http://x/q",
        "--table",
        "t",
        "--mode",
        "newer-wins",
        account=DEST_ACCOUNT,
    )
    assert done.returncode == 2
    assert "newer-wins needs the attribute" in done.stderr


def test_progress_lines_and_the_runner_context_use_injected_clocks() -> None:
    now = [100.0]
    stats = RunStats(clock=lambda: now[0])
    now[0] += 5.0  # idle receives before the first message: not part of the rate
    stats.add_received()
    now[0] += 2.0
    stats.add_batch(
        BatchSummary.of(
            [MessageResult(message_id="m", items=25, written=20, skipped=5)], duration_ms=3
        )
    )
    now[0] += 3.0  # --until-empty's drained checks after the last batch: not part either
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=200)
    assert ProgressMode.choose(enabled=True, console=console) is ProgressMode.PLAIN
    assert ProgressMode.choose(enabled=False, console=console) is ProgressMode.OFF
    with Progress(stats, mode=ProgressMode.PLAIN, console=console, line_interval_s=0.01) as shown:
        shown.say("message m not written: because")
        deadline = time.monotonic() + 5
        while "20 items written" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
    text = out.getvalue()
    assert "message m not written: because" in text
    assert (
        "consume: 1 message in 1 batch: 20 items written, 5 skipped, 0 rejected, 0 failed" in text
    )
    assert "10.0 s, writing 2.0 s (10 items/s)" in text

    context = RunnerContext(timeout_s=30, clock=lambda: now[0])
    now[0] += 12.5
    assert context.get_remaining_time_in_millis() == 17_500


def test_until_empty_on_an_empty_queue_stops_after_two_short_receives(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded = seed_source(sandbox, tmp_path, items=1, item_bytes=100)
    for name, value in account_env(DEST_ACCOUNT, sandbox.endpoint_url).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    sqs = sandbox.dest("sqs")
    receives: list[dict[str, object]] = []
    sqs.meta.events.register(
        "provide-client-params.sqs.ReceiveMessage",
        lambda params, **_: receives.append(dict(params)),
    )
    # The default 5 s long poll: --until-empty must not wait it out.
    config = RunnerConfig(
        queue_url=seeded.queue_url, table_name=TABLE, until_empty=True, concurrency=1
    )
    assert config.wait_time_s == 5
    stats = RunStats()

    summary = build_runner(config, stats=stats, sqs=sqs).run(threading.Event())

    # Two empty receives, each followed by a drained check (empty_checks), of 1 s each.
    assert [r["WaitTimeSeconds"] for r in receives] == [UNTIL_EMPTY_WAIT_S] * config.empty_checks
    assert UNTIL_EMPTY_WAIT_S == 1
    # The handler reads no system attribute, so none is asked for.
    assert not any("MessageSystemAttributeNames" in r for r in receives)
    assert (summary.messages_received, summary.items_written, summary.writing_s) == (0, 0, 0.0)
