"""What `--resume` needs, recorded as SQS acknowledges it and written atomically.

The parts, each usable alone:

    DeliveryTracker   charges every packed message to the pages whose items it holds; a page
                      is settled once every such message is acknowledged (or one has failed)
    LineBook          key file: the line below which every key is acknowledged, from chunks
                      settled in any order (chunk positions tile the file)
    SegmentBook       Scan segments (a Query is segment 0 of 1): each segment's
                      LastEvaluatedKey after its pages, in order, are acknowledged
    Checkpoint        the file: a fingerprint of what is copied, the books, counts; JSON,
                      mode 0600, replaced atomically (temp file in the same directory, fsync,
                      os.replace); never a credential, only names, keys and counts
    CheckpointKeeper  one run's checkpoint, the only interface the copier uses: it starts
                      from the checkpoint resumed (or a new one), hands out the tracker that
                      moves its book, and takes the snapshots that are written

A failed page (a key that could not be read, a message SQS refused) is never recorded as done:
a resumed copy tries it again. Items sent after the recorded point are sent again on resume,
at most the work that was in flight; the consumer's writes are idempotent.

File format (version 1):

    {"format": "asynccopy-checkpoint", "version": 1, "fingerprint": "<sha256>",
     "table": "users", "queue_url": "...", "selection": {"kind": "keys", ...},
     "shape": {"skip_expired": true, ...},                  (the shaping flags given)
     "complete": false, "runs": 2, "updated": "2025-01-01T00:00:00Z",
     "items_done": 1200, "items_sent_total": 1450,
     "key_file": {"done_line": 1200},                                  (a key file)
     "segments": {"3": {"done": false, "last_evaluated_key": {...},    (a Scan or Query;
                        "items_done": 40}}}                             segments not started
                                                                        are left out)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Protocol

from asynccopy.config import KeysSelection, QuerySelection, Selection
from asynccopy.copy.mismatch import changed_flags
from asynccopy.errors import CheckpointError
from asynccopy.read.base import KeyChunkPosition, Page, PagePosition, ScanPosition
from asynccopy.read.keys import STDIN_NAME, KeyFilePlan, ValueProblem, to_attribute_value
from asynccopy.send.packing import Message
from asynccopy.send.sender import SendResult
from consumer.wire import Item, key_to_text

FORMAT: Final = "asynccopy-checkpoint"
VERSION: Final = 1
DEFAULT_DIRECTORY: Final = ".asynccopy"
WRITE_INTERVAL_S: Final = 0.5  # at most two periodic writes a second, plus the final one


# -- what is being copied ---------------------------------------------------------------------


def _values_json(values: Mapping[str, Any]) -> Any:
    return json.loads(key_to_text(dict(values))) if values else {}


def selection_identity(selection: Selection, *, key_plan: KeyFilePlan | None) -> dict[str, Any]:
    """The selection as JSON: kind and parameters; a key file by its size and content hash."""
    if isinstance(selection, KeysSelection):
        if key_plan is None:
            raise ValueError("a key file selection needs its validated plan")
        return {
            "kind": "keys",
            "path": selection.path,  # for messages only: a moved file is the same file
            "size_bytes": key_plan.size_bytes,
            "sha256": key_plan.content_sha256,
        }
    if isinstance(selection, QuerySelection):
        return {
            "kind": "query",
            "key_condition": selection.key_condition,
            "values": _values_json(selection.values),
            "names": dict(selection.names),
            "filter": selection.filter_expression,
            "index": selection.index_name,
        }
    return {
        "kind": "scan",
        "total_segments": selection.total_segments,
        "segments": list(selection.segments),
        "filter": selection.filter_expression,
        "values": _values_json(selection.values),
        "names": dict(selection.names),
        # Only when set: a checkpoint of a scan of the table keeps its fingerprint.
        **({"index": selection.index_name} if selection.index_name else {}),
    }


def _digest(document: Any) -> str:
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def fingerprint(
    *,
    table: str,
    queue_url: str,
    selection: Mapping[str, Any],
    shape: Mapping[str, Any] | None = None,
) -> str:
    """SHA-256 of the table, the queue, the selection (a key file's path left out) and the
    shaping flags given (mismatch.shape_identity; none: the fingerprint they always had)."""
    chosen = {name: value for name, value in selection.items() if name != "path"}
    document = {"table": table, "queue_url": queue_url, "selection": chosen}
    if shape:
        document["shape"] = dict(shape)
    return _digest(document)


def default_path(table: str, selection: Selection, *, directory: Path | None = None) -> Path:
    """`.asynccopy/<table>-<hash of the selection as given>.checkpoint.json`, in the cwd.

    A key file is named by its absolute path here (not its content), so that a changed file
    finds its old checkpoint and is refused rather than silently starting over.
    """
    if isinstance(selection, KeysSelection):
        given: Any = {
            "kind": "keys",
            "path": selection.path
            if selection.path == STDIN_NAME
            else str(Path(selection.path).resolve()),
        }
    else:
        given = selection_identity(selection, key_plan=None)
    short = _digest({"table": table, "selection": given})[:12]
    base = directory if directory is not None else Path.cwd() / DEFAULT_DIRECTORY
    return base / f"{table}-{short}.checkpoint.json"


# -- the books ---------------------------------------------------------------------------------


@dataclass(eq=False, kw_only=True, slots=True)
class PageTicket:
    """One page on its way: settled once sealed, fully packed and every message acknowledged."""

    position: PagePosition
    count: int  # items (key file: keys, found or missing) the page accounts for
    failed: bool = False
    sealed: bool = False  # every item of the page has been handed to the packer
    unpacked: int = 0  # items in the packer, not yet in a finished message
    unsent: int = 0  # finished messages holding its items, not yet acknowledged
    settled: bool = False


class Book(Protocol):
    """Turns settled pages into a resume point."""

    changes: int  # bumped whenever the resume point moves

    def opened(self, ticket: PageTicket) -> None: ...

    def settled(self, ticket: PageTicket) -> None: ...


class NullBook:
    """Records nothing: a copy without a checkpoint."""

    changes = 0

    def opened(self, ticket: PageTicket) -> None:
        del ticket

    def settled(self, ticket: PageTicket) -> None:
        del ticket


class LineBook:
    """Key file: every key on lines 1..`done_line` is acknowledged.

    Chunk positions tile the file (each chunk starts on the line after the previous one's
    end), so settled chunks are joined in any order: `_waiting` holds the ones past a gap.
    """

    def __init__(self, *, done_line: int = 0, keys_done: int = 0) -> None:
        self.done_line = done_line
        self.keys_done = keys_done
        self.changes = 0
        self._waiting: dict[int, tuple[int, int]] = {}  # first_line -> (last_line, keys)

    def opened(self, ticket: PageTicket) -> None:
        del ticket

    def settled(self, ticket: PageTicket) -> None:
        position = ticket.position
        if ticket.failed or not isinstance(position, KeyChunkPosition):
            return  # a failed chunk holds the line back: a resume retries it
        self._waiting[position.first_line] = (position.last_line, ticket.count)
        moved = False
        while (following := self._waiting.pop(self.done_line + 1, None)) is not None:
            last_line, keys = following
            self.done_line = last_line
            self.keys_done += keys
            moved = True
        if moved:
            self.changes += 1


@dataclass(frozen=True, kw_only=True, slots=True)
class SegmentState:
    done: bool = False
    last_evaluated_key: Mapping[str, Any] | None = None  # None and not done: not started
    items_done: int = 0


class SegmentBook:
    """Scan segments (a Query is segment 0 of 1): a segment's pages arrive in order, so each
    segment's resume point is the key after its longest run of settled pages."""

    def __init__(self, states: Mapping[int, SegmentState] | None = None) -> None:
        self.states: dict[int, SegmentState] = dict(states or {})
        self.changes = 0
        self._open: dict[int, deque[PageTicket]] = {}

    @property
    def items_done(self) -> int:
        return sum(state.items_done for state in self.states.values())

    def opened(self, ticket: PageTicket) -> None:
        if isinstance(ticket.position, ScanPosition):
            self._open.setdefault(ticket.position.segment, deque()).append(ticket)

    def settled(self, ticket: PageTicket) -> None:
        position = ticket.position
        if not isinstance(position, ScanPosition):
            return
        pages = self._open[position.segment]
        state = self.states.get(position.segment, SegmentState())
        moved = False
        while pages and pages[0].settled and not pages[0].failed:
            page = pages.popleft()
            assert isinstance(page.position, ScanPosition)
            key = page.position.last_evaluated_key
            state = SegmentState(
                done=key is None, last_evaluated_key=key, items_done=state.items_done + page.count
            )
            moved = True
        if moved:
            self.states[position.segment] = state
            self.changes += 1


@dataclass(kw_only=True, slots=True)
class _Run:
    ticket: PageTicket
    items: int


class DeliveryTracker:
    """Which pages are fully acknowledged by SQS, from the packer's and the senders' events.

    Items enter the packer in order and messages leave it in order (MessagePacker keeps that
    order: send/packing.py), so a FIFO of (page, item count) runs says which pages each
    finished message holds.

    A finished message is tracked by `id()`, not by value: two messages can have equal bodies
    (an item read twice), yet each must settle its own pages. The id is safe as a key because
    `_owners` holds the message itself until it is released, so no other object can be given
    that id while the entry exists.
    """

    def __init__(self, book: Book | None = None) -> None:
        self.book: Book = book if book is not None else NullBook()
        self._runs: deque[_Run] = deque()
        # id(message) -> (the message, kept alive so its id stays its own; the pages it holds)
        self._owners: dict[int, tuple[Message, list[PageTicket]]] = {}

    def open(self, page: Page) -> PageTicket:
        ticket = PageTicket(
            position=page.position,
            count=len(page.items) + len(page.missing),
            failed=bool(page.failed),
        )
        self.book.opened(ticket)
        return ticket

    def packed(self, ticket: PageTicket) -> None:
        """One item of `ticket`'s page is now in the packer."""
        ticket.unpacked += 1
        if self._runs and self._runs[-1].ticket is ticket:
            self._runs[-1].items += 1
        else:
            self._runs.append(_Run(ticket=ticket, items=1))

    def fail(self, ticket: PageTicket) -> None:
        """An item of the page will never be sent (it fits no message)."""
        ticket.failed = True

    def seal(self, ticket: PageTicket) -> None:
        """Every item of the page has been handed to the packer (or failed)."""
        ticket.sealed = True
        self._settle_if_done(ticket)

    def charge(self, message: Message) -> None:
        """A finished message: it holds the oldest `len(message.keys)` items in the packer."""
        owners: list[PageTicket] = []
        left = len(message.keys)
        while left:
            run = self._runs[0]
            taken = min(left, run.items)
            run.items -= taken
            left -= taken
            run.ticket.unpacked -= taken
            if not owners or owners[-1] is not run.ticket:
                owners.append(run.ticket)
                run.ticket.unsent += 1
            if run.items == 0:
                self._runs.popleft()
        self._owners[id(message)] = (message, owners)

    def acknowledged(self, result: SendResult) -> None:
        """A batch's outcome: its sent messages count, its failed ones fail their pages."""
        for message in result.sent:
            self._release(message, failed=False)
        for failure in result.failed:
            self._release(failure.message, failed=True)

    def _release(self, message: Message, *, failed: bool) -> None:
        owned = self._owners.pop(id(message), None)
        if owned is None:
            return
        for ticket in owned[1]:
            ticket.unsent -= 1
            ticket.failed = ticket.failed or failed
            self._settle_if_done(ticket)

    def _settle_if_done(self, ticket: PageTicket) -> None:
        if ticket.sealed and not ticket.settled and ticket.unpacked == 0 and ticket.unsent == 0:
            ticket.settled = True
            self.book.settled(ticket)


# -- the file ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class Checkpoint:
    fingerprint: str
    table: str
    queue_url: str
    selection: Mapping[str, Any]
    shape: Mapping[str, Any] = field(default_factory=dict)  # mismatch.shape_identity
    complete: bool = False
    runs: int = 0
    items_done: int = 0  # items (key file: keys) below the resume point, over every run
    items_sent_total: int = 0  # every item sent by every run, re-sent ones included
    done_line: int | None = None  # a key file
    segments: Mapping[int, SegmentState] | None = None  # a Scan or a Query
    updated: str = ""

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "fingerprint": self.fingerprint,
            "table": self.table,
            "queue_url": self.queue_url,
            "selection": dict(self.selection),
            "shape": dict(self.shape),
            "complete": self.complete,
            "runs": self.runs,
            "updated": self.updated,
            "items_done": self.items_done,
            "items_sent_total": self.items_sent_total,
            "key_file": None if self.done_line is None else {"done_line": self.done_line},
            "segments": None,
        }
        if self.segments is not None:
            document["segments"] = {
                str(segment): {
                    "done": state.done,
                    "last_evaluated_key": (
                        None
                        if state.last_evaluated_key is None
                        else json.loads(key_to_text(dict(state.last_evaluated_key)))
                    ),
                    "items_done": state.items_done,
                }
                for segment, state in sorted(self.segments.items())
                if state.done or state.last_evaluated_key is not None
            }
        return document


def _decode_key(document: Any) -> Item:
    if not isinstance(document, dict) or not document:
        raise ValueProblem("a last_evaluated_key must be a non-empty object")
    return {str(name): to_attribute_value(value) for name, value in document.items()}


def _integer(document: Mapping[str, Any], name: str) -> int:
    value = document[name]
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueProblem(f"{name} must be a count")
    return value


def checkpoint_from_json(document: Any) -> Checkpoint:
    """A parsed checkpoint; ValueProblem, KeyError or TypeError if it is not one."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueProblem("it is not an asynccopy checkpoint")
    if document.get("version") != VERSION:
        raise ValueProblem(f"its version {document.get('version')!r} is not {VERSION}")
    done_line = None
    if document["key_file"] is not None:
        done_line = _integer(document["key_file"], "done_line")
    segments = None
    if document["segments"] is not None:
        segments = {}
        for name, state in document["segments"].items():
            key = state["last_evaluated_key"]
            segments[int(name)] = SegmentState(
                done=bool(state["done"]),
                last_evaluated_key=None if key is None else _decode_key(key),
                items_done=_integer(state, "items_done"),
            )
    if (done_line is None) == (segments is None):
        raise ValueProblem("it records neither a key file line nor Scan segments")
    strings = [document[name] for name in ("fingerprint", "table", "queue_url", "updated")]
    shape = document.get("shape", {})  # absent in checkpoints from before the shaping flags
    if (
        not all(isinstance(value, str) for value in strings)
        or not isinstance(document["selection"], dict)
        or not isinstance(shape, dict)
    ):
        raise ValueProblem("a field has the wrong type")
    return Checkpoint(
        fingerprint=document["fingerprint"],
        table=document["table"],
        queue_url=document["queue_url"],
        selection=document["selection"],
        shape=shape,
        complete=document["complete"] is True,
        runs=_integer(document, "runs"),
        items_done=_integer(document, "items_done"),
        items_sent_total=_integer(document, "items_sent_total"),
        done_line=done_line,
        segments=segments,
        updated=document["updated"],
    )


def load_checkpoint(path: Path) -> Checkpoint | None:
    """The checkpoint at `path`, None if there is none; CheckpointError if it is unusable."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(path=str(path), problem=f"cannot be read ({exc})") from None
    try:
        return checkpoint_from_json(json.loads(text))
    except json.JSONDecodeError:
        problem = "is corrupt (not JSON, or truncated)"
    except ValueProblem as exc:
        problem = f"is corrupt ({exc})"
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        problem = f"is corrupt (a field is missing or malformed: {exc!s:.60})"
    raise CheckpointError(path=str(path), problem=problem)


def _describe(selection: Mapping[str, Any]) -> str:
    kind = selection.get("kind")
    if kind == "keys":
        return f"--keys {selection.get('path')}"
    if kind == "scan":
        segments = selection.get("segments", [])
        total = selection.get("total_segments")
        if len(segments) == total:
            return f"--scan --segments {total}"
        return f"--scan --segment {','.join(map(str, segments))}/{total}"
    if kind == "query":
        return f"--query {selection.get('key_condition')!r}"
    return "an unknown selection"


def check_matches(
    checkpoint: Checkpoint,
    *,
    path: Path,
    table: str,
    queue_url: str,
    selection: Mapping[str, Any],
    shape: Mapping[str, Any] | None = None,
) -> None:
    """CheckpointError, saying what differs, unless `checkpoint` records this very copy."""
    hint = f"give this copy another --checkpoint, or delete {path} to start over"

    def refuse(problem: str) -> CheckpointError:
        return CheckpointError(path=str(path), problem=problem, hint=hint)

    if checkpoint.table != table:
        raise refuse(f"is for table {checkpoint.table!r}, not {table!r}")
    if checkpoint.queue_url != queue_url:
        raise refuse(f"is for queue {checkpoint.queue_url}, not {queue_url}")
    shape = shape or {}
    if checkpoint.fingerprint == fingerprint(
        table=table, queue_url=queue_url, selection=selection, shape=shape
    ):
        return
    old = checkpoint.selection
    kind = old.get("kind")
    if kind != selection.get("kind"):
        raise refuse(f"is for another selection ({_describe(old)}, not {_describe(selection)})")
    content = ("size_bytes", "sha256")
    if kind == "keys" and any(old.get(name) != selection.get(name) for name in content):
        raise refuse(
            f"the key file has changed since the checkpoint was written for "
            f"{old.get('path')} ({old.get('size_bytes')} bytes then, "
            f"{selection.get('size_bytes')} now, or different content)"
        )
    flags = changed_flags(old, selection, checkpoint.shape, shape)
    if not flags:  # e.g. written by another version of asynccopy
        raise refuse(f"is for another copy of {_describe(old)}")
    raise CheckpointError(
        path=str(path),
        problem=f"was written by a copy with other flags: {'; '.join(flags)}",
        hint=f"give the flags it was written with, {hint}",
    )


def write_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Replace `path` atomically: a 0600 temp file in the same directory, fsync, os.replace."""
    text = json.dumps(checkpoint.to_json(), indent=1, ensure_ascii=True) + "\n"
    directory = path.parent
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise CheckpointError(
            path=str(path), problem=f"cannot be written ({exc.strerror})", hint=_WRITE_HINT
        ) from None
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise CheckpointError(
            path=str(path), problem=f"cannot be written ({exc.strerror})", hint=_WRITE_HINT
        ) from None
    with contextlib.suppress(OSError):  # make the rename itself durable
        directory_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(directory_fd)
        finally:
            os.close(directory_fd)


_WRITE_HINT = "choose a writable --checkpoint path, or --no-checkpoint"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, kw_only=True, slots=True)
class Snapshot:
    """A checkpoint to write, and how far the book had moved when it was taken."""

    checkpoint: Checkpoint
    changes: int


class CheckpointKeeper:
    """One run's checkpoint: where it started, its book, and snapshots of both to write.

    The copier uses it only through these methods: `start` one, hand `tracker()` to the
    pipeline, write a `snapshot()` when `dirty` and report it `written`, and `finish_key_file`
    before the final snapshot of a complete copy.
    """

    def __init__(
        self,
        *,
        path: Path,
        base: Checkpoint,
        book: LineBook | SegmentBook,
        items_sent: Callable[[], int],
    ) -> None:
        self.path = path
        self._base = base  # as loaded (resuming) or as new, with this run counted
        self._book = book
        self._items_sent = items_sent  # this run's, for items_sent_total
        self._written_changes = -1

    @classmethod
    def start(
        cls,
        path: Path,
        *,
        table: str,
        queue_url: str,
        selection: Mapping[str, Any],
        shape: Mapping[str, Any] | None = None,
        key_file: bool,
        resumed: Checkpoint | None,
        items_sent: Callable[[], int],
    ) -> CheckpointKeeper:
        """This run's keeper: from the checkpoint it resumes (already checked to match), or a
        new one for `selection` (its `selection_identity`)."""
        shape = shape or {}
        base = resumed or Checkpoint(
            fingerprint=fingerprint(
                table=table, queue_url=queue_url, selection=selection, shape=shape
            ),
            table=table,
            queue_url=queue_url,
            selection=selection,
            shape=shape,
            done_line=0 if key_file else None,
            segments=None if key_file else {},
        )
        base = replace(base, runs=base.runs + 1, selection=selection)
        book: LineBook | SegmentBook
        if base.done_line is not None:
            book = LineBook(done_line=base.done_line, keys_done=base.items_done)
        else:
            book = SegmentBook(base.segments)
        return cls(path=path, base=base, book=book, items_sent=items_sent)

    def tracker(self) -> DeliveryTracker:
        """The tracker that moves this keeper's book as SQS acknowledges pages."""
        return DeliveryTracker(self._book)

    @property
    def dirty(self) -> bool:
        return self._book.changes != self._written_changes

    def finish_key_file(self, lines_total: int) -> None:
        """A complete copy of a key file: every line is done, including blank and comment
        lines after the last key, which no chunk accounts for."""
        if isinstance(self._book, LineBook):
            self._book.done_line = max(self._book.done_line, lines_total)

    def snapshot(self, *, complete: bool = False) -> Snapshot:
        """The checkpoint as of now; take it on the event loop's thread, for a consistent view."""
        book = self._book
        sent_total = self._base.items_sent_total + self._items_sent()
        if isinstance(book, LineBook):
            checkpoint = replace(
                self._base,
                complete=complete,
                done_line=book.done_line,
                items_done=book.keys_done,
                items_sent_total=sent_total,
                updated=_now(),
            )
        else:
            checkpoint = replace(
                self._base,
                complete=complete,
                segments=dict(book.states),
                items_done=book.items_done,
                items_sent_total=sent_total,
                updated=_now(),
            )
        return Snapshot(checkpoint=checkpoint, changes=book.changes)

    def written(self, snapshot: Snapshot) -> None:
        """`snapshot` is on disk: the keeper is clean until the book moves past it."""
        self._written_changes = snapshot.changes
