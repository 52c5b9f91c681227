"""`asynccopy copy --resume` after a crash, a Ctrl-C or a refusal, against the real sandbox.

A copy is stopped (SIGKILL, or SIGINT) once its checkpoint shows progress, then resumed: every
item must arrive, and the items sent twice (harmless: the consumer writes idempotently) are
counted as received minus distinct.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.consumer_helpers import received_items, seed_users
from tests.sandbox_helpers import Sandbox, create_table

TABLE = "users"
ITEMS = 2_000


def received_keys(sandbox: Sandbox, queue_url: str) -> list[str]:
    """The key of every item in the queue, duplicates included."""
    return [item["userid"]["S"] for item in received_items(sandbox, queue_url)]


def source_keys(sandbox: Sandbox) -> set[str]:
    pages = sandbox.source("dynamodb").get_paginator("scan").paginate(TableName=TABLE)
    return {item["userid"]["S"] for page in pages for item in page["Items"]}


def run(sandbox: Sandbox, *args: str, **options: Any) -> tuple[int, dict[str, Any], str]:
    return sandbox.run_json("copy", "--table", TABLE, *args, "--json", timeout_s=120, **options)


def read_checkpoint(path: Path) -> dict[str, Any] | None:
    try:
        document: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    return document


def wait_for_progress(process: subprocess.Popen[str], checkpoint: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        document = read_checkpoint(checkpoint)
        if document is not None and document["items_done"] > 0:
            return
        assert process.poll() is None, "the copy ended before its checkpoint showed progress"
        time.sleep(0.05)
    pytest.fail("the checkpoint showed no progress within 60 s")


SELECTIONS = {
    # 2,000 keys at 200 RCU/s (0.5 RCU each): about 5 s.
    "keys": lambda keys: ["--keys", str(keys), "--rate", "200"],
    # 250 RCU at 30 RCU/s, pages of 240 items, 3 per segment: about 8 s.
    "scan": lambda keys: ["--scan", "--segments", "4", "--rate", "30"],
}


@pytest.mark.timeout(180)
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
@pytest.mark.parametrize("kind", ["keys", "scan"])
def test_resume_after_stop_delivers_every_item(
    sandbox: Sandbox, tmp_path: Path, kind: str, how: signal.Signals
) -> None:
    keys, queue_url = seed_users(sandbox, tmp_path, items=ITEMS)
    checkpoint = tmp_path / "copy.checkpoint.json"
    selection = SELECTIONS[kind](keys)
    common = ["--queue-url", queue_url, "--checkpoint", str(checkpoint), "--no-progress"]
    with sandbox.start_cli("copy", "--table", TABLE, *selection, *common, "--json") as process:
        wait_for_progress(process, checkpoint)
        os.kill(process.pid, how)
        stdout, stderr = process.communicate(timeout=60)
    first: dict[str, Any] = {}
    if how == signal.SIGINT:
        assert process.returncode == 130, stderr
        first = json.loads(stdout)
        assert first["interrupted"] is True
    else:
        assert process.returncode == -signal.SIGKILL
    stopped = read_checkpoint(checkpoint)
    assert stopped is not None
    assert stopped["complete"] is False
    skipped = stopped["items_done"]
    assert 0 < skipped < ITEMS

    resume_selection = [a for a in selection if a not in ("200", "30")]
    resume_selection[resume_selection.index("--rate") :] = ["--rate", "max"]
    code, summary, stderr = run(sandbox, *resume_selection, *common, "--resume")
    assert code == 0, stderr
    assert summary["resumed"] is True
    assert summary["items_skipped_by_resume"] == skipped
    assert summary["items_sent"] == ITEMS - skipped
    if kind == "keys":
        assert summary["items_selected"] == ITEMS - skipped  # the progress total: what is left
    done = read_checkpoint(checkpoint)
    assert done is not None
    assert done["complete"] is True
    assert done["items_done"] == ITEMS
    assert done["runs"] == 2

    received = received_keys(sandbox, queue_url)
    assert set(received) == source_keys(sandbox)
    resent = len(received) - len(set(received))
    print(f"{kind}, {how.name}: skipped {skipped}, re-sent {resent} of {ITEMS}")
    if how == signal.SIGINT:
        assert done["items_sent_total"] == len(received)
    else:
        # kill -9 can land after SQS acknowledged a batch and before the checkpoint (written at
        # most every 0.5 s) recorded it: those items arrive twice and only once in the count.
        assert done["items_sent_total"] <= len(received)
    if how == signal.SIGINT:
        # Everything the first run sent beyond the checkpoint, and nothing more.
        assert resent == first["items_sent"] - skipped
    assert resent < ITEMS // 2  # bounded by the work in flight, not the whole copy


@pytest.mark.timeout(180)
def test_checkpoints_that_do_not_match_are_refused(sandbox: Sandbox, tmp_path: Path) -> None:
    keys, queue_url = seed_users(sandbox, tmp_path, items=60)
    create_table(sandbox.source("dynamodb"), "other", ("userid", "S"))
    env = sandbox.env()
    env["AWS_SECRET_ACCESS_KEY"] = "SECRET-6f1e2d3c4b5a"  # any value does for the sandbox
    env["AWS_SESSION_TOKEN"] = "TOKEN-a9b8c7d6e5f4"
    base = ["--keys", str(keys), "--queue-url", queue_url, "--rate", "max"]

    # The default path, in the current directory, from the table and the selection.
    code, summary, stderr = run(sandbox, *base, cwd=tmp_path, env=env)
    assert code == 0, stderr
    assert summary["items_sent"] == 60
    (checkpoint,) = (tmp_path / ".asynccopy").iterdir()
    assert checkpoint.name.startswith(f"{TABLE}-")
    assert checkpoint.name.endswith(".checkpoint.json")
    assert summary["checkpoint"] == str(checkpoint)
    assert stat.S_IMODE(checkpoint.stat().st_mode) == 0o600
    text = checkpoint.read_text()
    assert "SECRET-6f1e2d3c4b5a" not in text
    assert "TOKEN-a9b8c7d6e5f4" not in text
    assert json.loads(text)["complete"] is True
    sent = len(received_keys(sandbox, queue_url))
    assert sent == 60

    # Resuming a complete copy: nothing left, exit 0, nothing sent.
    code, summary, stderr = run(sandbox, *base, "--resume", cwd=tmp_path, env=env)
    assert code == 0, stderr
    assert summary["nothing_left"] is True
    assert summary["items_skipped_by_resume"] == 60
    assert summary["items_sent"] == 0
    text_run = sandbox.run_cli(
        "copy", "--table", TABLE, *base, "--resume", env=env, cwd=tmp_path, timeout_s=120
    )
    assert text_run.returncode == 0, text_run.stderr
    assert "nothing left to copy" in text_run.stdout

    # A dry run writes no checkpoint.
    dry = tmp_path / "dry.json"
    code, _, stderr = run(sandbox, *base, "--dry-run", "--checkpoint", str(dry), env=env)
    assert code == 0, stderr
    assert not dry.exists()

    explicit = ["--checkpoint", str(checkpoint), "--resume"]
    changed = tmp_path / "changed.txt"
    changed.write_text(keys.read_text() + "user-9999999\n")
    refusals = [
        (["--table", "other", *base], "is for table 'users', not 'other'"),  # the last wins
        (["--scan", "--queue-url", queue_url], "is for another selection (--keys"),
        (["--keys", str(changed), "--queue-url", queue_url], "the key file has changed"),
    ]
    for args, message in refusals:
        code, summary, stderr = run(sandbox, *args, *explicit, env=env)
        assert code == 2, (args, stderr)
        assert summary == {}
        assert message in stderr
        assert len(stderr.strip().splitlines()) == 1, stderr

    # A corrupt (truncated) checkpoint: exit 2, one line naming the file and the fix.
    checkpoint.write_text(text[: len(text) // 2])
    code, summary, stderr = run(sandbox, *base, "--resume", cwd=tmp_path, env=env)
    assert code == 2
    assert summary == {}
    assert stderr.strip() == (
        f"asynccopy: error: checkpoint {checkpoint}: is corrupt (not JSON, or truncated) "
        "(delete the file, or drop --resume to start from the beginning)"
    )
    assert len(received_keys(sandbox, queue_url)) == 0  # nothing more was sent


def test_a_resume_with_other_shaping_flags_is_refused(sandbox: Sandbox, tmp_path: Path) -> None:
    keys, queue_url = seed_users(sandbox, tmp_path, items=5)
    sandbox.source("dynamodb").update_time_to_live(
        TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiresAt"}
    )
    module = tmp_path / "shape.py"
    module.write_text("def transform(item):\n    return item\n", encoding="utf-8")
    checkpoint = tmp_path / "cp.json"
    base = ["--keys", str(keys), "--queue-url", queue_url, "--checkpoint", str(checkpoint)]
    transform = ["--transform", f"{module}:transform"]
    shaped = [*base, "--attributes", "userid,name", *transform, "--skip-expired"]
    code, summary, stderr = run(sandbox, *shaped)
    assert code == 0, stderr
    assert summary["items_sent"] == 5
    code, summary, stderr = run(sandbox, *shaped, "--resume")
    assert code == 0, stderr
    assert summary["nothing_left"] is True

    # Each shaping flag is named when it differs (tests/test_checkpoint.py); here, end to end:
    code, summary, stderr = run(sandbox, *base, "--attributes", "userid,name", *transform,
                                "--resume")  # fmt: skip
    assert code == 2, stderr
    assert summary == {}
    assert "was written by a copy with other flags: --skip-expired given then, not given now" in (
        stderr
    )
    assert len(stderr.strip().splitlines()) == 1, stderr
    # The same flags, but the function's file changed: another copy too.
    module.write_text("def transform(item):\n    return dict(item)\n", encoding="utf-8")
    code, summary, stderr = run(sandbox, *shaped, "--resume")
    assert code == 2, stderr
    assert f"--transform {module.resolve()}:transform: the file has changed since" in stderr
    assert len(received_keys(sandbox, queue_url)) == 5  # the first run's, nothing more
