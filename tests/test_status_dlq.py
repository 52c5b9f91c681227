"""`asynccopy status` and `asynccopy dlq` against the sandbox, driven as a user runs them."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from tests.consumer_helpers import (
    KEY,
    TABLE,
    bodies_for,
    queue_counts,
    seed_source,
    send_bodies,
    shorten_redrive,
)
from tests.sandbox_helpers import DEST_ACCOUNT, Sandbox
from tests.test_consumer_rejected import recreate_users_with_email_index


def _consume(sandbox: Sandbox, queue_url: str) -> int:
    done = sandbox.run_cli(
        *("consume", "--queue-url", queue_url, "--table", TABLE, "--until-empty"),
        *("--wait-time-seconds", "1", "--no-progress"),
        account=DEST_ACCOUNT,
        timeout_s=120,
    )
    return done.returncode


def test_status_shows_the_queue_then_watches_it_drain(sandbox: Sandbox, tmp_path: Path) -> None:
    seeded = seed_source(sandbox, tmp_path, items=60, item_bytes=200)
    send_bodies(sandbox.dest("sqs"), seeded.queue_url, bodies_for(seeded.items))  # 3 messages

    code, before, stderr = sandbox.run_json(
        "status", "--queue-url", seeded.queue_url, "--json", account=DEST_ACCOUNT
    )
    assert code == 0, stderr
    assert (before["messages_waiting"], before["messages_in_flight"]) == (3, 0)
    assert before["dead_letter_messages"] == 0
    assert before["dead_letter_queue_url"] == seeded.dlq_url
    assert before["drained"] is False
    assert "status: not drained: 3 waiting, 0 in flight, 0 dead-letter" in stderr

    assert _consume(sandbox, seeded.queue_url) == 0
    code, after, stderr = sandbox.run_json(
        *("status", "--queue-url", seeded.queue_url, "--watch", "--poll-seconds", "0.2"),
        "--json",
        account=DEST_ACCOUNT,
    )
    assert code == 0, stderr
    assert after["drained"] is True
    assert after["polls"] == 3
    assert "status: drained" in stderr
    # Not a terminal: plain progress lines, as the other commands print them.
    assert "status: waiting 0, in flight 0, dead-letter 0" in stderr


def test_status_watch_exits_130_on_ctrl_c(sandbox: Sandbox, tmp_path: Path) -> None:
    seeded = seed_source(sandbox, tmp_path, items=5, item_bytes=200)
    send_bodies(sandbox.dest("sqs"), seeded.queue_url, bodies_for(seeded.items))
    with sandbox.start_cli(
        "status", "--queue-url", seeded.queue_url, "--watch", account=DEST_ACCOUNT
    ) as process:
        assert process.stderr is not None
        # The first plain line: it is watching (no consumer runs, so it never drains).
        assert process.stderr.readline().startswith("status: waiting 1, in flight 0")
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
        stderr = process.stderr.read()  # not communicate(): readline's buffer holds the rest
    assert process.returncode == 130, stderr
    assert "status: interrupted (only the watching stopped" in stderr


def _fill_dead_letter_queue(sandbox: Sandbox, tmp_path: Path) -> tuple[str, str, set[str]]:
    """Three items the destination refuses (rejected by the consumer, with their reasons) and
    one poison message (failed its receives, moved by the redrive policy)."""
    seeded = seed_source(sandbox, tmp_path, items=50, item_bytes=200)
    items = [{**i, "email": {"S": f"{i[KEY]['S']}@example.com"}} for i in seeded.items]
    refused = {0: {"N": "42"}, 20: {"N": "7"}, 30: {"S": ""}}
    for index, email in refused.items():
        items[index] = {**items[index], "email": email}
    recreate_users_with_email_index(sandbox)
    send_bodies(sandbox.dest("sqs"), seeded.queue_url, bodies_for(items))
    assert _consume(sandbox, seeded.queue_url) == 1
    # A 1 s visibility leaves no time to write, but a body that cannot be decoded needs none:
    # it fails its one receive and the redrive policy moves it on the next.
    shorten_redrive(sandbox, seeded, visibility_s=1, max_receives=1)
    send_bodies(sandbox.dest("sqs"), seeded.queue_url, ["not a message"])
    assert _consume(sandbox, seeded.queue_url) == 1
    assert queue_counts(sandbox, seeded.dlq_url) == (4, 0)
    return seeded.queue_url, seeded.dlq_url, {items[i][KEY]["S"] for i in refused}


def test_dlq_lists_keys_and_reasons_leaves_them_visible_and_redrives(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    queue_url, dlq_url, refused = _fill_dead_letter_queue(sandbox, tmp_path)

    code, status, _ = sandbox.run_json(
        "status", "--queue-url", queue_url, "--json", account=DEST_ACCOUNT
    )
    assert code == 1
    assert status["dead_letter_messages"] == 4

    keys_out = tmp_path / "dead-keys.txt"
    code, listing, stderr = sandbox.run_json(
        *("dlq", "--queue-url", dlq_url, "--table", TABLE, "--json"),
        *("--keys-out", str(keys_out)),
        account=DEST_ACCOUNT,
    )
    assert code == 1, stderr
    assert (listing["messages"], listing["items"]) == (4, 3)
    rows = {row["key"]: row for row in listing["rows"]}
    for key in refused:
        row = rows[json.dumps({KEY: {"S": key}}, separators=(",", ":"))]
        assert row["reason"].startswith("rejected: ValidationException: ")
        assert row["count"] == 1
    poison = rows[None]
    assert poison["reason"].startswith("failed 1 receives; cannot decode message body")
    # Listing consumed nothing: every message is visible again at once.
    assert queue_counts(sandbox, dlq_url) == (4, 0)

    # The key file is one `copy --keys` takes.
    lines = keys_out.read_text(encoding="ascii").splitlines()
    assert sorted(json.loads(line)[KEY]["S"] for line in lines) == sorted(refused)
    copied = sandbox.run_cli(
        *("copy", "--table", TABLE, "--queue-url", queue_url, "--keys", str(keys_out)),
        "--dry-run",
    )
    assert copied.returncode == 0, copied.stderr
    assert "items selected   3\n" in copied.stdout
    code, plan, stderr = sandbox.run_json(
        *("copy", "--table", TABLE, "--queue-url", queue_url, "--keys", str(keys_out)),
        *("--dry-run", "--json"),
    )
    assert code == 0, stderr
    sampled = plan["sample_items"]
    assert sorted(item[KEY]["S"] for item in sampled) == sorted(refused)

    # Redrive: the poison message goes back to its source queue; rejected items name none.
    code, moved, stderr = sandbox.run_json(
        "dlq", "redrive", "--queue-url", dlq_url, "--json", account=DEST_ACCOUNT
    )
    assert code == 1, stderr
    assert (moved["messages_moved"], moved["left_without_source"]) == (1, 3)
    assert moved["destinations"] == [queue_url]
    assert "pass --to SOURCE_URL" in stderr
    assert queue_counts(sandbox, dlq_url) == (3, 0)
    code, moved, stderr = sandbox.run_json(
        *("dlq", "redrive", "--queue-url", dlq_url, "--to", queue_url, "--json"),
        account=DEST_ACCOUNT,
    )
    assert code == 0, stderr
    assert (moved["messages_moved"], moved["left_without_source"]) == (3, 0)
    assert queue_counts(sandbox, dlq_url) == (0, 0)
    assert queue_counts(sandbox, queue_url) == (4, 0)
