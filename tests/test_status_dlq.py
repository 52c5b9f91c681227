"""`asynccopy status` and `asynccopy dlq` against the sandbox, driven as a user runs them."""

from __future__ import annotations

import json
import signal
from dataclasses import dataclass
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


@dataclass(frozen=True, kw_only=True)
class Filled:
    queue_url: str
    dlq_url: str
    refused: set[str]  # keys of the items the consumer rejected
    moved: set[str]  # keys of the items of the whole message the redrive policy moved


def _fill_dead_letter_queue(sandbox: Sandbox, tmp_path: Path) -> Filled:
    """Three items the destination refuses (rejected by the consumer, with their reasons), one
    poison message and one message of two good items (each failed its receives and was moved
    whole by the redrive policy)."""
    seeded = seed_source(sandbox, tmp_path, items=50, item_bytes=200)
    items = [{**i, "email": {"S": f"{i[KEY]['S']}@example.com"}} for i in seeded.items]
    refused = {0: {"N": "42"}, 20: {"N": "7"}, 30: {"S": ""}}
    for index, email in refused.items():
        items[index] = {**items[index], "email": email}
    recreate_users_with_email_index(sandbox)
    send_bodies(sandbox.dest("sqs"), seeded.queue_url, bodies_for(items))
    assert _consume(sandbox, seeded.queue_url) == 1
    shorten_redrive(sandbox, seeded, visibility_s=1, max_receives=1)
    sqs = sandbox.dest("sqs")
    send_bodies(sqs, seeded.queue_url, ["not a message", *bodies_for(seeded.items[40:42])])
    # Their one receive, by a consumer that crashed: the next receive moves them (the good
    # one has to be moved so; a 1 s visibility would leave the runner no time to fail it).
    received = sqs.receive_message(QueueUrl=seeded.queue_url, MaxNumberOfMessages=10)
    assert len(received["Messages"]) == 2
    sqs.change_message_visibility_batch(
        QueueUrl=seeded.queue_url,
        Entries=[
            {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
            for n, m in enumerate(received["Messages"])
        ],
    )
    _consume(sandbox, seeded.queue_url)  # its receive is the one that moves them
    assert queue_counts(sandbox, seeded.dlq_url) == (5, 0)
    return Filled(
        queue_url=seeded.queue_url,
        dlq_url=seeded.dlq_url,
        refused={items[i][KEY]["S"] for i in refused},
        moved={i[KEY]["S"] for i in seeded.items[40:42]},
    )


def _key(key: str) -> str:
    return json.dumps({KEY: {"S": key}}, separators=(",", ":"))


def test_dlq_without_table_names_rejected_keys_and_lists_whole_messages_by_reason(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    filled = _fill_dead_letter_queue(sandbox, tmp_path)

    code, listing, stderr = sandbox.run_json(
        "dlq", "--queue-url", filled.dlq_url, "--json", account=DEST_ACCOUNT
    )
    assert code == 1, stderr
    assert (listing["messages"], listing["items"], listing["unnamed_messages"]) == (5, 5, 1)
    rows = {row["key"]: row for row in listing["rows"] if row["key"] is not None}
    assert set(rows) == {_key(key) for key in filled.refused}  # named by the consumer
    for row in rows.values():
        assert row["reason"].startswith("rejected: ValidationException: ")
    unnamed = [row for row in listing["rows"] if row["key"] is None]
    whole = [row for row in unnamed if row["reason"].endswith("key not known without --table")]
    assert [(row["count"], row["reason"].startswith("failed ")) for row in whole] == [(2, True)]
    assert len(unnamed) == 2  # and the poison message, which no table could name
    assert "dlq: pass --table TABLE to name the keys of 1 messages moved whole" in stderr
    # The same, as lines on stderr: a refused item by its key, the moved message by reason.
    code, _, stderr = sandbox.run_json("dlq", "--queue-url", filled.dlq_url, account=DEST_ACCOUNT)
    lines = stderr.splitlines()
    for key in filled.refused:
        assert any(line.startswith(f"1\t{_key(key)}\trejected: ") for line in lines), stderr
    assert any(
        line.startswith("2\t-\tfailed ") and line.endswith("key not known without --table")
        for line in lines
    ), stderr

    # --keys-out writes the keys it knows, and says which it could not name.
    keys_out = tmp_path / "known-keys.txt"
    code, _, stderr = sandbox.run_json(
        *("dlq", "--queue-url", filled.dlq_url, "--keys-out", str(keys_out)),
        account=DEST_ACCOUNT,
    )
    assert code == 1, stderr
    assert sorted(keys_out.read_text(encoding="ascii").splitlines()) == sorted(
        _key(key) for key in filled.refused
    )
    assert f"wrote 3 keys to {keys_out} (not those of the 1 messages moved whole)" in stderr

    # With --table, the moved message's keys are named too (and the consumer's agree).
    code, listing, stderr = sandbox.run_json(
        *("dlq", "--queue-url", filled.dlq_url, "--table", TABLE, "--json"),
        account=DEST_ACCOUNT,
    )
    assert code == 1, stderr
    assert listing["unnamed_messages"] == 0
    keys = {row["key"] for row in listing["rows"]}
    assert keys == {_key(key) for key in filled.refused | filled.moved} | {None}
    assert not any("is --table its table" in row["reason"] for row in listing["rows"])
    assert queue_counts(sandbox, filled.dlq_url) == (5, 0)


def test_dlq_lists_keys_and_reasons_leaves_them_visible_and_redrives(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    filled = _fill_dead_letter_queue(sandbox, tmp_path)
    queue_url, dlq_url, refused = filled.queue_url, filled.dlq_url, filled.refused

    code, status, _ = sandbox.run_json(
        "status", "--queue-url", queue_url, "--json", account=DEST_ACCOUNT
    )
    assert code == 1
    assert status["dead_letter_messages"] == 5

    keys_out = tmp_path / "dead-keys.txt"
    code, listing, stderr = sandbox.run_json(
        *("dlq", "--queue-url", dlq_url, "--table", TABLE, "--json"),
        *("--keys-out", str(keys_out)),
        account=DEST_ACCOUNT,
    )
    assert code == 1, stderr
    assert (listing["messages"], listing["items"]) == (5, 5)
    rows = {row["key"]: row for row in listing["rows"]}
    for key in refused:
        row = rows[_key(key)]
        assert row["reason"].startswith("rejected: ValidationException: ")
        assert row["count"] == 1
    for key in filled.moved:
        assert rows[_key(key)]["reason"].startswith("failed ")
    poison = rows[None]
    assert poison["reason"].startswith("failed 1 receives; cannot decode message body")
    # Listing consumed nothing: every message is visible again at once.
    assert queue_counts(sandbox, dlq_url) == (5, 0)

    # The key file is one `copy --keys` takes.
    lines = keys_out.read_text(encoding="ascii").splitlines()
    assert sorted(json.loads(line)[KEY]["S"] for line in lines) == sorted(refused | filled.moved)
    copied = sandbox.run_cli(
        *("copy", "--table", TABLE, "--queue-url", queue_url, "--keys", str(keys_out)),
        "--dry-run",
    )
    assert copied.returncode == 0, copied.stderr
    assert "items selected   5\n" in copied.stdout
    code, plan, stderr = sandbox.run_json(
        *("copy", "--table", TABLE, "--queue-url", queue_url, "--keys", str(keys_out)),
        *("--dry-run", "--json"),
    )
    assert code == 0, stderr
    sampled = plan["sample_items"]
    assert {item[KEY]["S"] for item in sampled} <= refused | filled.moved  # a sample of 5

    # Redrive: the moved messages go back to their source queue; rejected items name none.
    code, moved, stderr = sandbox.run_json(
        "dlq", "redrive", "--queue-url", dlq_url, "--json", account=DEST_ACCOUNT
    )
    assert code == 1, stderr
    assert (moved["messages_moved"], moved["left_without_source"]) == (2, 3)
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
    assert queue_counts(sandbox, queue_url) == (5, 0)
