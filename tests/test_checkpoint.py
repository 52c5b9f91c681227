"""The checkpoint module without AWS: delivery tracking, the books, the file and its checks."""

from __future__ import annotations

import json
import os
import stat
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from asynccopy.config import ItemShape, KeysSelection, QuerySelection, ScanSelection
from asynccopy.copy.checkpoint import (
    Checkpoint,
    DeliveryTracker,
    LineBook,
    SegmentBook,
    SegmentState,
    check_matches,
    default_path,
    fingerprint,
    load_checkpoint,
    selection_identity,
    write_checkpoint,
)
from asynccopy.copy.mismatch import shape_identity
from asynccopy.copy.transform import Transform
from asynccopy.errors import CheckpointError, InputError
from asynccopy.read.base import KeyChunkPosition, Page, ScanPosition
from asynccopy.read.keys import KeyFilePlan
from asynccopy.read.projection import parse_attributes
from asynccopy.send.packing import Message, MessagePacker
from asynccopy.send.sender import FailedMessage, SendResult
from consumer.wire import Item

QUEUE = "https://sqs.example/123/q"


def item(n: int) -> Item:
    return {"id": {"S": f"k{n}"}, "v": {"B": bytes([n % 256])}}


def chunk(first: int, last: int, items: int, *, missing: int = 0) -> Page:
    return Page(
        items=[item(first + i) for i in range(items)],
        missing=[{"id": {"S": f"missing{first + i}"}} for i in range(missing)],
        position=KeyChunkPosition(first_line=first, last_line=last),
    )


def pack(tracker: DeliveryTracker, packer: MessagePacker, page: Page) -> list[Message]:
    """What the pipeline's packer does with one page; the finished messages."""
    ticket = tracker.open(page)
    finished: list[Message] = []
    for one in page.items:
        done = packer.add(one)
        tracker.packed(ticket)
        for message in done:
            tracker.charge(message)
        finished += done
    tracker.seal(ticket)
    return finished


def flush(tracker: DeliveryTracker, packer: MessagePacker) -> list[Message]:
    finished = packer.flush()
    for message in finished:
        tracker.charge(message)
    return finished


# -- the key file's line, from chunks settled in any order -----------------------------------


def test_line_book_joins_chunks_settled_out_of_order() -> None:
    book = LineBook()
    tracker = DeliveryTracker(book)
    packer = MessagePacker(key_names=("id",), max_items=4)
    # Chunks tile lines 1..30 (with blank and duplicate lines inside); 3 items each, so
    # messages of 4 items straddle chunks.
    pages = [chunk(1, 10, 3), chunk(11, 20, 3, missing=1), chunk(21, 30, 3)]
    messages = [m for page in pages for m in pack(tracker, packer, page)]
    messages += flush(tracker, packer)
    assert [len(m.keys) for m in messages] == [4, 4, 1]
    # The last message (chunk 3 only) and the second (chunks 2 and 3) are acknowledged first.
    tracker.acknowledged(SendResult(sent=(messages[2],)))
    tracker.acknowledged(SendResult(sent=(messages[1],)))
    assert (book.done_line, book.keys_done, book.changes) == (0, 0, 0)
    tracker.acknowledged(SendResult(sent=(messages[0],)))  # chunks 1, 2 and 3 are done
    assert (book.done_line, book.keys_done) == (30, 10)


def test_a_failed_chunk_holds_the_line_back() -> None:
    book = LineBook(done_line=100, keys_done=50)  # resumed after line 100
    tracker = DeliveryTracker(book)
    packer = MessagePacker(key_names=("id",), max_items=2)
    first = pack(tracker, packer, chunk(101, 102, 2))
    second = pack(tracker, packer, chunk(103, 110, 2))
    third = pack(tracker, packer, chunk(111, 111, 1)) + flush(tracker, packer)
    tracker.acknowledged(SendResult(sent=(*first, *third)))
    assert book.done_line == 102
    tracker.acknowledged(
        SendResult(sent=(), failed=(FailedMessage(message=second[0], code="X", sender_fault=True),))
    )
    assert (book.done_line, book.keys_done) == (102, 52)  # chunk 3 waits behind chunk 2


def test_a_page_with_unread_keys_is_not_done() -> None:
    book = LineBook()
    tracker = DeliveryTracker(book)
    page = Page(
        items=[],
        position=KeyChunkPosition(first_line=1, last_line=1),
        failed=[object()],  # type: ignore[list-item]
    )
    tracker.seal(tracker.open(page))
    assert book.done_line == 0


def test_a_chunk_of_only_missing_keys_is_done_at_once() -> None:
    book = LineBook()
    tracker = DeliveryTracker(book)
    tracker.seal(tracker.open(chunk(1, 5, 0, missing=2)))
    assert (book.done_line, book.keys_done) == (5, 2)


# -- Scan segments ------------------------------------------------------------------------------


def scan_page(segment: int, start: int, last_key: int | None) -> Page:
    return Page(
        items=[item(start), item(start + 1)],
        position=ScanPosition(
            segment=segment,
            total_segments=2,
            last_evaluated_key=None if last_key is None else {"id": {"S": f"k{last_key}"}},
        ),
    )


def test_segment_book_keeps_each_segments_last_key_after_acknowledged_pages() -> None:
    book = SegmentBook({1: SegmentState(last_evaluated_key={"id": {"S": "k0"}}, items_done=7)})
    tracker = DeliveryTracker(book)
    packer = MessagePacker(key_names=("id",), max_items=2)
    a = pack(tracker, packer, scan_page(0, 0, 1))
    b = pack(tracker, packer, scan_page(1, 10, 11))
    c = pack(tracker, packer, scan_page(0, 20, None))
    tracker.acknowledged(SendResult(sent=(*c, *b)))
    assert 0 not in book.states  # its first page is not acknowledged yet
    assert book.states[1] == SegmentState(last_evaluated_key={"id": {"S": "k11"}}, items_done=9)
    tracker.acknowledged(SendResult(sent=tuple(a)))
    assert book.states[0] == SegmentState(done=True, items_done=4)
    assert book.items_done == 13


# -- the file ---------------------------------------------------------------------------------


def plan(tmp_path: Path, *, sha: str = "ab" * 32, size: int = 10) -> KeyFilePlan:
    return KeyFilePlan(
        path=tmp_path / "keys.txt",
        display_name="keys.txt",
        keys_total=3,
        lines_total=3,
        duplicate_lines=frozenset(),
        size_bytes=size,
        content_sha256=sha,
    )


def scan_checkpoint() -> Checkpoint:
    selection = selection_identity(
        ScanSelection(total_segments=4, segments=(0, 1, 2, 3), values={":b": {"B": b"\x00\xff"}}),
        key_plan=None,
    )
    return Checkpoint(
        fingerprint=fingerprint(table="t", queue_url=QUEUE, selection=selection),
        table="t",
        queue_url=QUEUE,
        selection=selection,
        runs=1,
        items_done=5,
        segments={
            0: SegmentState(done=True, items_done=3),
            2: SegmentState(
                last_evaluated_key={"id": {"B": b"\x01"}, "n": {"N": "5"}}, items_done=2
            ),
            3: SegmentState(),  # not started: left out of the file
        },
        updated="2025-01-01T00:00:00Z",
    )


def test_write_is_atomic_0600_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "c.checkpoint.json"
    path.parent.mkdir()
    path.write_text("old")
    os.chmod(path, 0o644)
    checkpoint = scan_checkpoint()
    write_checkpoint(path, checkpoint)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp file left
    loaded = load_checkpoint(path)
    assert loaded is not None
    assert loaded.segments == {0: checkpoint.segments[0], 2: checkpoint.segments[2]}  # type: ignore[index]
    assert loaded.fingerprint == checkpoint.fingerprint
    assert json.loads(path.read_text())["segments"]["2"]["last_evaluated_key"] == {
        "id": {"B": "AQ=="},
        "n": {"N": "5"},
    }


def test_a_failed_write_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.json"
    write_checkpoint(path, scan_checkpoint())
    before = path.read_bytes()

    def broken(_src: object, _dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(CheckpointError, match="No space left"):
        write_checkpoint(path, scan_checkpoint())
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.json"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", "not JSON, or truncated"),
        ('{"format": "asynccopy-checkpoint", "version": 1, "fingerpr', "not JSON, or truncated"),
        ("[1, 2]", "not an asynccopy checkpoint"),
        ('{"format": "asynccopy-checkpoint", "version": 99}', "version 99 is not 1"),
        ('{"format": "asynccopy-checkpoint", "version": 1}', "missing or malformed"),
    ],
)
def test_a_corrupt_checkpoint_is_refused_in_one_line(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "c.json"
    path.write_text(content)
    with pytest.raises(CheckpointError) as raised:
        load_checkpoint(path)
    message = str(raised.value)
    assert isinstance(raised.value, InputError)
    assert problem in message
    assert str(path) in message
    assert "delete the file, or drop --resume" in message
    assert "\n" not in message


def test_a_missing_checkpoint_is_none(tmp_path: Path) -> None:
    assert load_checkpoint(tmp_path / "none.json") is None


def test_fingerprint_mismatches_say_what_differs(tmp_path: Path) -> None:
    keys = selection_identity(KeysSelection(path="keys.txt"), key_plan=plan(tmp_path))
    written = Checkpoint(
        fingerprint=fingerprint(table="t", queue_url=QUEUE, selection=keys),
        table="t",
        queue_url=QUEUE,
        selection=keys,
        done_line=2,
    )
    path = tmp_path / "c.json"
    check_matches(written, path=path, table="t", queue_url=QUEUE, selection=keys)
    moved = {**keys, "path": "/elsewhere/keys.txt"}  # the same content under another name
    check_matches(written, path=path, table="t", queue_url=QUEUE, selection=moved)
    changed = selection_identity(KeysSelection(path="keys.txt"), key_plan=plan(tmp_path, size=11))
    scan = selection_identity(ScanSelection(total_segments=4, segments=(0, 1, 2, 3)), key_plan=None)
    cases = [
        (
            {"table": "other", "queue_url": QUEUE, "selection": keys},
            "is for table 't', not 'other'",
        ),
        ({"table": "t", "queue_url": QUEUE + "2", "selection": keys}, "is for queue"),
        ({"table": "t", "queue_url": QUEUE, "selection": changed}, "the key file has changed"),
        ({"table": "t", "queue_url": QUEUE, "selection": scan}, "(--keys keys.txt, not --scan"),
    ]
    for arguments, message in cases:
        with pytest.raises(CheckpointError) as raised:
            check_matches(written, path=path, **arguments)  # type: ignore[arg-type]
        assert message in str(raised.value)


def _shape(**fields: Any) -> dict[str, Any]:
    return shape_identity(ItemShape(**fields))


def _transform(source: str, sha256: str) -> Transform:
    return Transform(spec="t.py:mask", function=dict, source=source, source_sha256=sha256)


def test_a_resume_with_other_shaping_flags_or_index_names_the_flag(tmp_path: Path) -> None:
    query = selection_identity(
        QuerySelection(key_condition="c = :c", values={":c": {"S": "x"}}, index_name="byC"),
        key_plan=None,
    )
    shape = _shape(
        projection=parse_attributes('userid,"weird.name",profile.city'),
        transform=_transform("/src/t.py", "aa" * 32),
        skip_expired=True,
    )
    written = Checkpoint(
        fingerprint=fingerprint(table="t", queue_url=QUEUE, selection=query, shape=shape),
        table="t",
        queue_url=QUEUE,
        selection=query,
        shape=shape,
        segments={},
    )
    path = tmp_path / "c.json"
    check = partial(check_matches, written, path=path, table="t", queue_url=QUEUE)
    check(selection=query, shape=shape)
    fields: dict[str, Any] = {
        "projection": parse_attributes('userid,"weird.name",profile.city'),
        "transform": _transform("/src/t.py", "aa" * 32),
        "skip_expired": True,
    }
    cases: list[tuple[dict[str, Any], dict[str, Any], str]] = [
        (query, {**fields, "projection": None},
         """--attributes 'userid,"weird.name",profile.city' then, not given now"""),
        (query, {**fields, "transform": _transform("/src/t.py", "bb" * 32)},
         "--transform /src/t.py:mask: the file has changed since"),
        (query, {**fields, "transform": _transform("/src/u.py", "aa" * 32)},
         "--transform /src/t.py:mask then, /src/u.py:mask now"),
        (query, {**fields, "skip_expired": False}, "--skip-expired given then, not given now"),
        (query, {**fields, "keep_replication_attributes": True},
         "--keep-replication-attributes not given then, given now"),
        ({**query, "index": "byD"}, fields, "--index 'byC' then, 'byD' now"),
        ({**query, "index": None}, fields, "--index 'byC' then, not given now"),
    ]  # fmt: skip
    for selection, shaped, message in cases:
        with pytest.raises(CheckpointError) as raised:
            check(selection=selection, shape=_shape(**shaped))
        assert f"was written by a copy with other flags: {message} (give the flags" in str(
            raised.value
        )

    # A checkpoint from before the shaping flags: no "shape", and the fingerprint it had.
    keys = selection_identity(KeysSelection(path="keys.txt"), key_plan=plan(tmp_path))
    old = {"format": "asynccopy-checkpoint", "version": 1, "table": "t", "queue_url": QUEUE,
           "fingerprint": fingerprint(table="t", queue_url=QUEUE, selection=keys),
           "selection": keys, "complete": False, "runs": 1, "updated": "", "items_done": 0,
           "items_sent_total": 0, "key_file": {"done_line": 0}, "segments": None}  # fmt: skip
    path.write_text(json.dumps(old))
    loaded = load_checkpoint(path)
    assert loaded is not None
    check_matches(loaded, path=path, table="t", queue_url=QUEUE, selection=keys, shape=_shape())
    with pytest.raises(CheckpointError, match="--skip-expired not given then, given now"):
        check_matches(
            loaded, path=path, table="t", queue_url=QUEUE, selection=keys,
            shape=_shape(skip_expired=True),
        )  # fmt: skip


def test_default_path_names_the_table_and_hashes_the_selection(tmp_path: Path) -> None:
    scan4 = ScanSelection(total_segments=4, segments=(0, 1, 2, 3))
    path = default_path("users", scan4, directory=tmp_path)
    assert path.parent == tmp_path
    assert path.name.startswith("users-")
    assert path.name.endswith(".checkpoint.json")
    assert path == default_path("users", scan4, directory=tmp_path)
    assert path != default_path(
        "users", ScanSelection(total_segments=4, segments=(1,)), directory=tmp_path
    )
    assert default_path("users", KeysSelection(path="a.txt")).parent == Path.cwd() / ".asynccopy"
