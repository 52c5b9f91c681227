"""The checkpoint during one copy: open it (and check the one `--resume` names), write it a few
times a second while SQS acknowledges pages and once at the end, and resume the segments it
records.

In: the CopyConfig, the key plan, this run's sent count. Out: a CheckpointKeeper (through its
own interface only), the checkpoint resumed, and a source that skips what it records as done.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Callable, Mapping
from typing import Any

import anyio
import anyio.to_thread

from asynccopy.config import CopyConfig, KeysSelection
from asynccopy.copy.checkpoint import (
    Checkpoint,
    CheckpointKeeper,
    SegmentState,
    check_matches,
    load_checkpoint,
    selection_identity,
    write_checkpoint,
)
from asynccopy.copy.mismatch import shape_identity
from asynccopy.errors import CheckpointError
from asynccopy.read.base import Page
from asynccopy.read.indexed import IndexFetchSource
from asynccopy.read.keys import KeyFilePlan
from asynccopy.read.query import QuerySource
from asynccopy.read.scan import ScanSource


def open_checkpoint(
    config: CopyConfig, *, key_plan: KeyFilePlan | None, items_sent: Callable[[], int]
) -> tuple[CheckpointKeeper | None, Checkpoint | None]:
    """The checkpoint this run keeps, and the one it resumes (validated), if any.

    Raises CheckpointError (exit 2, before anything is sent) for a missing, corrupt or
    mismatched checkpoint.
    """
    path = config.checkpoint_path
    if path is None:
        return None, None
    identity = selection_identity(config.selection, key_plan=key_plan)
    shape = shape_identity(config.shape)
    loaded = None
    if config.resume:
        loaded = load_checkpoint(path)
        if loaded is None:
            raise CheckpointError(
                path=str(path),
                problem="does not exist, so there is nothing to resume",
                hint="drop --resume to start from the beginning, or name the file with "
                "--checkpoint",
            )
        check_matches(
            loaded,
            path=path,
            table=config.table,
            queue_url=config.queue_url,
            selection=identity,
            shape=shape,
        )
    keeper = CheckpointKeeper.start(
        path,
        table=config.table,
        queue_url=config.queue_url,
        selection=identity,
        shape=shape,
        key_file=isinstance(config.selection, KeysSelection),
        resumed=loaded,
        items_sent=items_sent,
    )
    return keeper, loaded


def where_resumed(resume: Checkpoint) -> str:
    """Where an unfinished checkpoint left off, for the line that says what is skipped."""
    if resume.done_line is not None:
        return f"after line {resume.done_line:,} of the key file"
    states = resume.segments or {}
    done = sum(1 for state in states.values() if state.done)
    started = sum(1 for s in states.values() if not s.done and s.last_evaluated_key)
    return f"{done} segments done, {started} restarting from their last page"


async def write_now(keeper: CheckpointKeeper, *, complete: bool = False) -> None:
    snapshot = keeper.snapshot(complete=complete)  # on the loop thread: a consistent view
    await anyio.to_thread.run_sync(write_checkpoint, keeper.path, snapshot.checkpoint)
    keeper.written(snapshot)


async def keep_writing(keeper: CheckpointKeeper, *, interval_s: float) -> None:
    """Writes the checkpoint when it has moved, at most once per `interval_s`."""
    while True:
        await anyio.sleep(interval_s)
        if keeper.dirty:
            await write_now(keeper)


async def write_final(
    keeper: CheckpointKeeper, *, complete: bool, key_plan: KeyFilePlan | None
) -> str | None:
    """The last write, however the copy ended; returns the problem if it failed."""
    if complete and key_plan is not None:
        keeper.finish_key_file(key_plan.lines_total)
    try:
        await write_now(keeper, complete=complete)
    except CheckpointError as exc:
        return str(exc)
    return None


class ResumedSegments:
    """A Scan's (or a Query's) segments from where a checkpoint left them: the segments it
    records as done are skipped, the others restart from their LastEvaluatedKey."""

    def __init__(
        self,
        source: ScanSource | QuerySource | IndexFetchSource,
        *,
        states: Mapping[int, SegmentState],
    ) -> None:
        self._source = source
        self._states = states

    async def units(self) -> AsyncGenerator[int, None]:
        async with contextlib.aclosing(self._source.units()) as units:
            async for unit in units:
                state = self._states.get(unit)
                if state is None or not state.done:
                    yield unit

    def pages(self, unit: int) -> AsyncGenerator[Page, None]:
        state = self._states.get(unit)
        start_key: Any = None if state is None else state.last_evaluated_key
        return self._source.pages(unit, start_key=start_key)
