"""`copy --transform`: the function's results sent, skipped items counted, rejected items failed
by key (the rest copied), on both engines, against the sandbox; the shipped example tested."""

from __future__ import annotations

import hashlib
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from asynccopy.copy.transform import ItemRejected, Transform, check, load_transform
from asynccopy.read.tables import KeyAttribute
from asynccopy.sandbox.profiles import DEST_PROFILE, SOURCE_PROFILE
from asynccopy.send.packing import wire_json
from consumer.wire import WireItem, from_wire
from tests.consumer_helpers import received_items, scan_all, seed_users
from tests.sandbox_helpers import SOURCE_ACCOUNT, Sandbox

ENGINES = ["fast", "botocore"]
EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "mask_email.py"
OPERATIONS = EXAMPLE.parents[1] / "operations.md"
KEYS = (KeyAttribute(name="userid", type="S"),)

MIXED = textwrap.dedent(
    """
    def transform(item):
        user = item["userid"]["S"]
        if user == "user-0000001":
            return None
        if user == "user-0000002":
            raise ValueError("no user-0000002 please")
        if user == "user-0000003":
            item["userid"] = {"S": "someone-else"}
        if user == "user-0000004":
            item["n"] = {"N": "not a number"}
        item["seen"] = {"BOOL": True}
        return item
    """
)


def test_the_docs_show_the_shipped_example_whole() -> None:
    """A reader copies the example from the docs into a file: it must be the tested one."""
    section = OPERATIONS.read_text(encoding="utf-8").split("## Changing items on the way")[1]
    shown = section.split("```python\n")[1].split("```")[0]
    assert shown.startswith("import hashlib")
    assert EXAMPLE.read_text(encoding="utf-8").endswith(shown)


@pytest.mark.parametrize("engine", ENGINES)
def test_the_mask_example_masks_emails_and_drops_bio(
    sandbox: Sandbox, tmp_path: Path, engine: str
) -> None:
    keys, queue_url = seed_users(sandbox, tmp_path, items=6)
    code, summary, stderr = sandbox.run_json(
        *("copy", "--table", "users", "--keys", str(keys), "--queue-url", queue_url),
        *("--transform", f"{EXAMPLE}:transform", "--engine", engine, "--json"),
        env={**sandbox.env(SOURCE_ACCOUNT), "MASK_SALT": "pepper"},
    )
    assert code == 0, stderr
    assert (summary["items_transformed"], summary["items_skipped_by_transform"]) == (6, 0)
    received = {item["userid"]["S"]: item for item in received_items(sandbox, queue_url)}
    assert len(received) == summary["items_sent"] == 6
    digest = hashlib.sha256(b"pepper" + b"u0@example.com").hexdigest()[:16]
    emails = received["user-0000000"]["profile"]["M"]["emails"]["SS"]
    assert f"{digest}@masked.invalid" in emails
    assert all(email.endswith("@masked.invalid") for email in emails)
    assert not [item for item in received.values() if "bio" in item]
    # Binary travels as base64 text through the function and arrives unchanged.
    assert received["user-0000000"]["history"]["L"][4]["L"][1] == {"B": b"\x00\x01"}


@pytest.mark.parametrize("engine", ENGINES)
def test_skipped_raising_and_rekeyed_items(sandbox: Sandbox, tmp_path: Path, engine: str) -> None:
    keys, queue_url = seed_users(sandbox, tmp_path, items=8)
    module = tmp_path / "mixed.py"
    module.write_text(MIXED, encoding="utf-8")
    failed_out = tmp_path / "failed.txt"
    base = ("copy", "--table", "users", "--keys", str(keys), "--queue-url", queue_url)
    code, summary, stderr = sandbox.run_json(
        *base, "--transform", f"{module}:transform", "--engine", engine, "--json",
        "--failed-out", str(failed_out), "--no-checkpoint",
    )  # fmt: skip
    assert code == 1, stderr
    assert summary["items_skipped_by_transform"] == 1
    assert summary["items_transformed"] == 4
    assert summary["items_failed"] == 3
    assert summary["items_read"] == 8
    assert summary["items_sent"] == 4
    failed = {json.loads(line)["userid"]["S"] for line in failed_out.read_text().splitlines()}
    assert failed == {"user-0000002", "user-0000003", "user-0000004"}
    shown = " ".join(summary["failed_keys_sample"])
    assert "transform_error: ValueError: no user-0000002 please" in shown
    assert "key attribute 'userid' was changed" in shown
    assert "N value 'not a number' is not a number" in shown
    # Counted by a stable code each, never by each item's own text; none of them a retry fixes.
    assert summary["failed_by_reason"] == {
        "transform_error": 1,
        "transform_invalid_key": 1,
        "transform_invalid_result": 1,
    }
    assert summary["failed_examples"]["transform_error"] == {
        "key": {"userid": {"S": "user-0000002"}},
        "reason": "ValueError: no user-0000002 please",
    }
    assert (summary["items_failed_by_transform"], summary["items_failed_retryable"]) == (3, 0)
    received = {item["userid"]["S"]: item for item in received_items(sandbox, queue_url)}
    assert set(received) == {"user-0000000", "user-0000005", "user-0000006", "user-0000007"}
    assert all(item["seen"] == {"BOOL": True} for item in received.values())

    checkpoint = tmp_path / "cp.json"
    text = sandbox.run_cli(*base, "--transform", f"{module}:transform", "--no-progress",
                           "--checkpoint", str(checkpoint), "--engine", engine)  # fmt: skip
    assert text.returncode == 1
    assert "transformed 4 items; the transform skipped 1" in text.stdout
    assert "failed 3 (3 by the transform)" in text.stdout
    assert "3 items failed by the transform: fix the function" in text.stdout
    # The same function fails them again: a --resume is not what helps.
    assert "to continue" not in text.stdout


def _wire(item: dict[str, Any]) -> WireItem:
    wire = WireItem(item)
    wire.encoded = wire_json(wire)
    return wire


def test_a_fast_engine_item_with_a_binary_key_keeps_its_key_shape() -> None:
    keys = (KeyAttribute(name="blob", type="B"),)
    item = _wire({"blob": {"B": b"\x00\x01"}, "data": {"B": b"\xff"}})
    seen: list[dict[str, Any]] = []

    def function(wire: dict[str, Any]) -> dict[str, Any]:
        seen.append(dict(wire))
        return {**wire, "extra": {"S": "x"}}

    sent = Transform(spec="t:f", function=function).apply(item, keys=keys)
    assert seen == [{"blob": {"B": "AAE="}, "data": {"B": "/w=="}}]  # wire JSON: base64 text
    assert isinstance(sent, WireItem)
    assert sent["blob"] == {"B": b"\x00\x01"}  # the shape the bookkeeping keeps
    assert json.loads(sent.encoded) == {"blob": {"B": "AAE="}, "data": {"B": "/w=="},
                                        "extra": {"S": "x"}}  # fmt: skip


@pytest.mark.parametrize(
    ("result", "problem"),
    [
        ({"name": {"S": "x"}}, "the result lacks key attribute 'userid'"),
        ({"userid": {"N": "1"}}, "key attribute 'userid' must be of type S"),
        ({"userid": {"S": "u"}, "s": {"SS": []}}, "SS value must not be empty"),
        ({"userid": {"S": "u"}, "b": {"B": "not base64!"}}, "not valid base64"),
    ],
)
def test_invalid_results_are_rejected_with_the_reason(result: dict[str, Any], problem: str) -> None:
    with pytest.raises(ItemRejected) as caught:
        check(result, before={"userid": {"S": "u"}}, keys=KEYS)
    assert problem in caught.value.reason


def test_a_result_that_is_not_a_dict_is_rejected(tmp_path: Path) -> None:
    module = tmp_path / "listy.py"
    module.write_text("def transform(item):\n    return [item]\n", encoding="utf-8")
    transform = load_transform(f"{module}:transform")
    with pytest.raises(ItemRejected, match="returned a list"):
        transform.apply({"userid": {"S": "u"}}, keys=KEYS)


def test_the_dry_run_shows_the_sample_before_and_after(sandbox: Sandbox, tmp_path: Path) -> None:
    keys, queue_url = seed_users(sandbox, tmp_path, items=3)
    args = ("copy", "--table", "users", "--keys", str(keys), "--queue-url", queue_url,
            "--transform", f"{EXAMPLE}:transform", "--dry-run", "--sample", "2")  # fmt: skip
    code, summary, stderr = sandbox.run_json(*args, "--json")
    assert code == 0, stderr
    before, after = summary["sample_items_before_transform"], summary["sample_items"]
    assert len(before) == len(after) == 2
    assert all("bio" in item for item in before)
    assert not [item for item in after if "bio" in item]
    assert "u0@example.com" in json.dumps(before)
    assert "@example.com" not in json.dumps(after)
    # Reads are charged for the items as read: the plan measures them before the transform
    # (which drops the ~600-byte bio of the seed's ~1 KB items).
    assert summary["average_item_source"] == "measured on 2 sample items before the transform"
    assert summary["average_item_bytes"] > 900
    text = sandbox.run_cli(*args)
    assert text.returncode == 0, text.stderr
    assert "before the transform:" in text.stdout
    assert "after the transform (as sent):" in text.stdout


@pytest.mark.parametrize("engine", ENGINES)
def test_verify_applies_the_transform_to_the_source(
    sandbox: Sandbox, tmp_path: Path, engine: str
) -> None:
    seed_users(sandbox, tmp_path, items=4)
    mask = load_transform(f"{EXAMPLE}:transform")
    for item in scan_all(sandbox.source("dynamodb")):
        masked = mask.apply(item, keys=KEYS)
        assert masked is not None
        sandbox.dest("dynamodb").put_item(TableName="users", Item=from_wire(dict(masked)))
    verify = (
        *("verify", "--table", "users", "--scan", "--profile", SOURCE_PROFILE),
        *("--dest-profile", DEST_PROFILE, "--no-progress", "--json", "--engine", engine),
    )
    code, summary, stderr = sandbox.run_json(
        *verify, "--transform", f"{EXAMPLE}:transform", env=sandbox.profile_env
    )
    assert code == 0, stderr
    assert summary["items_identical"] == summary["items_compared"] == 4
    code, summary, _ = sandbox.run_json(*verify, env=sandbox.profile_env)
    assert code == 1
    assert summary["items_different"] == 4


def test_the_bench_measures_a_trivial_transform() -> None:
    from benchmarks.report import Results, to_markdown
    from benchmarks.transform_cost import run_transform_cost

    cost = run_transform_cost(items=200, item_bytes=500)
    assert cost.items == 200
    assert cost.transform_us_per_item > 0
    assert "copy --transform" in to_markdown(Results(transform=cost))
