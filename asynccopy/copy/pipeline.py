"""The copy's task graph, the only module that knows it:

    source.units() -> [unit stream] -> readers x concurrency -> [page stream]
        -> packer (items -> messages -> batches) -> [batch stream] -> senders x concurrency

Every stream is a bounded anyio memory stream, so a slow stage holds back the ones before it
and memory stays bounded whatever the number of keys (see config.py for the bound).
Setting `stop` cancels the reading stages only: pages already read are still packed, and
every batch is sent before `run_pipeline` returns.

With `--max-queue-depth`, the readers await a `backpressure.QueueDepthGate` before each read
call (before a unit's first page, and before each next page): reading pauses while the queue
is too deep, and packing and sending go on.

Where a checkpoint goes (for `--resume`): a page's `position` says what it covers. A position
is done when every message holding its items is in a SendResult's `sent`; for a key file,
the highest `last_line` below which every chunk is done is the line to resume after; for a Scan
segment, the `last_evaluated_key` of its highest page that is done. The packer and the senders
tell a `checkpoint.DeliveryTracker` what they pack and what SQS acknowledges; it does the rest.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from asynccopy.copy.backpressure import QueueDepthGate
from asynccopy.copy.checkpoint import DeliveryTracker
from asynccopy.copy.reasons import FailureCode, send_failure
from asynccopy.copy.stats import FailedKey, Stats
from asynccopy.read.base import Page, Source
from asynccopy.send.packing import BatchPacker, ItemTooLargeError, Message, MessagePacker
from asynccopy.send.sender import Sender, SendResult


@dataclass(frozen=True, kw_only=True, slots=True)
class PipelineConfig:
    key_names: tuple[str, ...]
    max_message_bytes: int
    max_batch_bytes: int
    readers: int
    senders: int
    unit_buffer: int = 8
    page_buffer: int = 8
    batch_buffer: int = 8


def record_send(stats: Stats, result: SendResult) -> None:
    """Count one batch's outcome; its failed messages fail every item they hold."""
    items = sum(len(message.keys) for message in result.sent)
    if result.dry_run:
        stats.items_dry_run += items
    else:
        stats.items_sent += items
        stats.messages_sent += len(result.sent)
        stats.batches_sent += 1 if result.sent else 0
        stats.bytes_sent += sum(message.size_bytes for message in result.sent)
        stats.sqs_request_units += result.request_units
    stats.retries += result.retries
    stats.throttles += result.throttles
    stats.record_failed(
        [
            FailedKey(key=key, code=send_failure(f.code), reason=f.code)
            for f in result.failed
            for key in f.message.keys
        ]
    )


async def _cancel_when_set(stop: anyio.Event, scope: anyio.CancelScope) -> None:
    await stop.wait()
    scope.cancel()


async def _feed_units(source: Source[Any], units: MemoryObjectSendStream[Any]) -> None:
    async with units, contextlib.aclosing(source.units()) as stream:
        async for unit in stream:
            await units.send(unit)


async def _read(
    source: Source[Any],
    units: MemoryObjectReceiveStream[Any],
    on_page: Callable[[Page], Awaitable[None]],
    gate: QueueDepthGate | None,
) -> None:
    async with units:
        async for unit in units:
            if gate is not None:
                await gate.wait_open()
            async with contextlib.aclosing(source.pages(unit)) as page_stream:
                async for page in page_stream:
                    if gate is not None:
                        gate.note_read(len(page.items))
                    await on_page(page)
                    if gate is not None:  # the generator reads the next page when asked
                        await gate.wait_open()


async def read_pages(
    source: Source[Any],
    on_page: Callable[[Page], Awaitable[None]],
    *,
    readers: int,
    unit_buffer: int,
    gate: QueueDepthGate | None = None,
) -> None:
    """Read `source`'s units with `readers` concurrent workers, each page handed to `on_page`:
    the reading stage of the copy, and all of verify's."""
    unit_send, unit_receive = anyio.create_memory_object_stream[Any](unit_buffer)
    async with anyio.create_task_group() as group:
        group.start_soon(_feed_units, source, unit_send)
        for _ in range(readers):
            group.start_soon(_read, source, unit_receive.clone(), on_page, gate)
        unit_receive.close()


async def _read_all(
    source: Source[Any],
    pages: MemoryObjectSendStream[Page],
    *,
    config: PipelineConfig,
    stop: anyio.Event | None,
    gate: QueueDepthGate | None,
) -> None:
    async with pages, anyio.create_task_group() as watch:
        if stop is not None:
            watch.start_soon(_cancel_when_set, stop, watch.cancel_scope)
        await read_pages(
            source, pages.send, readers=config.readers, unit_buffer=config.unit_buffer, gate=gate
        )
        watch.cancel_scope.cancel()  # reading is done: stop watching for `stop`


async def _pack(
    pages: MemoryObjectReceiveStream[Page],
    batches: MemoryObjectSendStream[list[Message]],
    *,
    config: PipelineConfig,
    stats: Stats,
    tracker: DeliveryTracker,
) -> None:
    # One packer for every page, fed in the order pages arrive: the tracker's FIFO of page
    # runs mirrors the packer's item order (see MessagePacker), so it must see each item as
    # the packer does, `packed` right after `add`, and `charge` each message before sending.
    messages = MessagePacker(key_names=config.key_names, max_message_bytes=config.max_message_bytes)
    batcher = BatchPacker(max_batch_bytes=config.max_batch_bytes)
    async with pages, batches:
        async for page in pages:
            stats.record_read(items=len(page.items), missing=page.missing)
            stats.record_failed(page.failed)
            ticket = tracker.open(page)
            too_large: list[FailedKey] = []
            for item in page.items:
                try:
                    done = messages.add(item)
                except ItemTooLargeError as exc:
                    too_large.append(
                        FailedKey(
                            key=exc.key,
                            code=FailureCode.ITEM_TOO_LARGE,
                            reason=f"needs {exc.size_bytes:,} bytes, over the queue's"
                            f" {exc.limit_bytes:,}",
                        )
                    )
                    stats.too_large_max_bytes = max(stats.too_large_max_bytes, exc.size_bytes)
                    tracker.fail(ticket)
                    continue
                tracker.packed(ticket)
                for message in done:
                    tracker.charge(message)  # before it can be sent
                for message in done:
                    for batch in batcher.add(message):
                        await batches.send(batch)
            tracker.seal(ticket)
            stats.record_failed(too_large)
        for message in messages.flush():
            tracker.charge(message)
            for batch in batcher.add(message):
                await batches.send(batch)
        for batch in batcher.flush():
            await batches.send(batch)


async def _send(
    batches: MemoryObjectReceiveStream[list[Message]],
    *,
    sender: Sender,
    stats: Stats,
    tracker: DeliveryTracker,
) -> None:
    async with batches:
        async for batch in batches:
            result = await sender.send(batch)
            record_send(stats, result)
            tracker.acknowledged(result)


async def run_pipeline(
    source: Source[Any],
    *,
    sender: Sender,
    config: PipelineConfig,
    stats: Stats,
    stop: anyio.Event | None = None,
    tracker: DeliveryTracker | None = None,
    gate: QueueDepthGate | None = None,
) -> None:
    """Read everything `source` selects and send it; returns when the last batch is sent.

    `tracker` hears which pages SQS has acknowledged in full: the checkpoint's source.
    `gate` (--max-queue-depth) holds the readers back while the queue is too deep.
    """
    tracker = tracker if tracker is not None else DeliveryTracker()
    page_send, page_receive = anyio.create_memory_object_stream[Page](config.page_buffer)
    batch_send, batch_receive = anyio.create_memory_object_stream[list[Message]](
        config.batch_buffer
    )
    async with anyio.create_task_group() as group:
        group.start_soon(partial(_read_all, source, page_send, config=config, stop=stop, gate=gate))
        group.start_soon(
            partial(_pack, page_receive, batch_send, config=config, stats=stats, tracker=tracker)
        )
        for _ in range(config.senders):
            group.start_soon(
                partial(_send, batch_receive.clone(), sender=sender, stats=stats, tracker=tracker)
            )
        batch_receive.close()
