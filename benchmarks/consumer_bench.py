"""Benchmark 5: the consumer, in-process on real SQS messages, and end to end with the sandbox's
deployed Lambda.

* handler: the queue is filled with messages of 25 items (sent 10 to a SendMessageBatch, as the
  producer sends them); a child process receives them 10 at a time and calls
  `consumer.handler.lambda_handler`; items/s counts the time inside the handler only.
* consumer engines: the handler run on each engine (CONSUMER_ENGINE fast and botocore), in
  overwrite mode (BatchWriteItem) and with conditional puts (skip-existing, fresh items, so
  every put writes); the client CPU per written item inside the handler, and what it means on
  Lambda, where that CPU is the limit: a 512 MB function has about 0.3 vCPU.
* end to end: `asynccopy sandbox deploy-consumer` deploys deploy/template.yaml (the real Lambda
  behind the stack's queue), then `asynccopy copy` runs into that queue; items/s is from the
  copy's first read (its exit minus its own `elapsed_s`) to the poll of the destination table
  that first sees every item.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from asynccopy.sandbox.deploy import STACK_NAME, stack_outputs
from asynccopy.sandbox.seed import make_item
from asynccopy.send.packing import BatchPacker, MessagePacker
from benchmarks.harness import (
    DEST_ACCOUNT,
    KEY_NAME,
    TABLE_NAME,
    BenchSandbox,
    asynccopy_argv,
    log,
    python_argv,
    run_copy,
    run_measured,
)


@dataclass(frozen=True, kw_only=True, slots=True)
class HandlerResult:
    messages: int
    items: int
    items_per_message: int
    messages_per_invocation: int
    invocations: int
    messages_failed: int
    handler_s: float
    items_per_s: float
    items_in_table: int
    cpu_s: float
    engine: str = "fast"
    mode: str = "overwrite"
    handler_cpu_s: float = 0.0
    warm_items: int = 0
    warm_cpu_s: float = 0.0


# Lambda allocates CPU in proportion to memory: 1,769 MB is one vCPU, so 512 MB is ~0.29.
LAMBDA_MEMORY_GB: Final = 0.5
LAMBDA_VCPU_AT_512_MB: Final = 0.3
FAST_CPU_SHARE_TARGET: Final = 0.25  # issue 13: fast <= 1/4 of botocore's CPU per item


@dataclass(frozen=True, kw_only=True, slots=True)
class EngineRun:
    engine: str  # CONSUMER_ENGINE
    mode: str  # WRITE_MODE
    items: int
    handler_s: float
    warm_items: int  # after the first (cold) invocation
    warm_cpu_s: float

    @property
    def cpu_us_per_item(self) -> float:
        return self.warm_cpu_s / self.warm_items * 1e6 if self.warm_items else 0.0

    @property
    def lambda_items_per_s(self) -> float:
        """What one 512 MB instance could write if CPU were its only limit."""
        cpu = self.cpu_us_per_item
        return LAMBDA_VCPU_AT_512_MB / (cpu / 1e6) if cpu else 0.0

    @property
    def lambda_gb_s_per_million_items(self) -> float:
        rate = self.lambda_items_per_s
        return LAMBDA_MEMORY_GB * 1e6 / rate if rate else 0.0


@dataclass(frozen=True, kw_only=True, slots=True)
class ConsumerEnginesResult:
    runs: tuple[EngineRun, ...]
    target_share: float = FAST_CPU_SHARE_TARGET

    def run(self, engine: str, mode: str) -> EngineRun | None:
        return next((r for r in self.runs if (r.engine, r.mode) == (engine, mode)), None)

    def share(self, mode: str) -> float:
        """fast's CPU per item as a share of botocore's, in `mode`."""
        fast, slow = self.run("fast", mode), self.run("botocore", mode)
        if fast is None or slow is None or not slow.cpu_us_per_item:
            return 0.0
        return fast.cpu_us_per_item / slow.cpu_us_per_item

    @property
    def overwrite_share(self) -> float:
        return self.share("overwrite")

    @property
    def passed(self) -> bool:
        return 0 < self.overwrite_share <= self.target_share


@dataclass(frozen=True, kw_only=True, slots=True)
class EndToEndResult:
    items: int
    copy_elapsed_s: float
    first_read_to_last_write_s: float
    items_per_s: float
    copy_items_per_s: float


def fill_queue(box: BenchSandbox, *, messages: int, item_bytes: int, first_index: int) -> int:
    """Send `messages` messages of 25 fresh items each; returns the number of items."""
    sqs = box.client("sqs", DEST_ACCOUNT)
    packer = MessagePacker(key_names=[KEY_NAME], max_message_bytes=262_144)
    batches = BatchPacker(max_batch_bytes=262_144)
    rng = random.Random(7)
    items = 0

    def send(batch: list[Any]) -> None:
        entries = [{"Id": str(i), "MessageBody": m.body} for i, m in enumerate(batch)]
        reply = sqs.send_message_batch(QueueUrl=box.queue_url, Entries=entries)
        if reply.get("Failed"):
            raise RuntimeError(f"fill_queue: {len(reply['Failed'])} entries failed")

    index = first_index
    while items < messages * 25:
        item = make_item(index, item_bytes=item_bytes, rng=rng)
        index += 1
        items += 1
        for message in packer.add(item):
            for batch in batches.add(message):
                send(batch)
    for message in packer.flush():
        for batch in batches.add(message):
            send(batch)
    for batch in batches.flush():
        send(batch)
    return items


def run_handler(
    box: BenchSandbox,
    *,
    messages: int,
    item_bytes: int = 1_000,
    engine: str = "fast",
    mode: str = "overwrite",
    first_index: int = 5_000_000,
) -> HandlerResult:
    box.purge()
    items = fill_queue(box, messages=messages, item_bytes=item_bytes, first_index=first_index)
    before = box.table_count(DEST_ACCOUNT)
    env = box.env(DEST_ACCOUNT)
    env["TABLE_NAME"] = TABLE_NAME
    env["CONSUMER_ENGINE"] = engine
    env["WRITE_MODE"] = mode
    measured = run_measured(
        python_argv(
            "-m",
            "benchmarks.consumer_run",
            "--queue-url",
            box.queue_url,
            "--messages",
            str(messages),
        ),
        env=env,
    ).check()
    summary = measured.json()
    in_table = box.table_count(DEST_ACCOUNT) - before
    if summary["items"] != items:
        log(f"consumer: wrote {summary['items']} of {items} items")
    return HandlerResult(
        messages=int(summary["messages"]),
        items=int(summary["items"]),
        items_per_message=25,
        messages_per_invocation=10,
        invocations=int(summary["invocations"]),
        messages_failed=int(summary["messages_failed"]),
        handler_s=float(summary["handler_s"]),
        items_per_s=float(summary["items_per_s"]),
        items_in_table=in_table,
        cpu_s=measured.cpu_s,
        engine=engine,
        mode=mode,
        handler_cpu_s=float(summary["handler_cpu_s"]),
        warm_items=int(summary["warm_items"]),
        warm_cpu_s=float(summary["warm_cpu_s"]),
    )


def run_engines(
    box: BenchSandbox, *, messages: int, item_bytes: int = 1_000
) -> tuple[ConsumerEnginesResult, HandlerResult]:
    """Each engine in overwrite mode and with conditional puts, on fresh items each time (so
    every conditional put writes); also the fast overwrite run, benchmark 5's handler row."""
    runs: list[EngineRun] = []
    handler: HandlerResult | None = None
    first_index = 6_000_000
    for mode in ("overwrite", "skip-existing"):
        for engine in ("botocore", "fast"):
            result = run_handler(
                box,
                messages=messages,
                item_bytes=item_bytes,
                engine=engine,
                mode=mode,
                first_index=first_index,
            )
            first_index += messages * 25
            run = EngineRun(
                engine=engine,
                mode=mode,
                items=result.items,
                handler_s=result.handler_s,
                warm_items=result.warm_items,
                warm_cpu_s=result.warm_cpu_s,
            )
            log(
                f"consumer {engine} {mode}: {run.cpu_us_per_item:.0f} us CPU per item, "
                f"{result.items_per_s:.0f} items/s in the handler"
            )
            runs.append(run)
            if (engine, mode) == ("fast", "overwrite"):
                handler = result
    assert handler is not None
    return ConsumerEnginesResult(runs=tuple(runs)), handler


def run_end_to_end(
    box: BenchSandbox,
    *,
    keys: Path,
    items: int,
    concurrency: int,
    poll_s: float = 0.5,
    timeout_s: float = 300.0,
) -> EndToEndResult:
    """The copy with the deployed Lambda draining the stack's queue; the destination table
    starts empty."""
    box.empty_destination()
    deploy = run_measured(
        asynccopy_argv("sandbox", "deploy-consumer", "--port", str(box.port)),
        env=box.env(DEST_ACCOUNT),
    ).check()
    log(f"end-to-end: consumer deployed ({deploy.wall_s:.1f} s)")
    queue_url = stack_outputs(STACK_NAME, endpoint_url=box.endpoint_url)["QueueUrl"]
    box.purge(queue_url)
    copy = run_copy(box, keys=keys, rate="max", concurrency=concurrency, queue_url=queue_url)
    first_read = time.perf_counter() - copy.elapsed_s  # the copy has just exited
    deadline = time.perf_counter() + timeout_s
    written = 0
    while time.perf_counter() < deadline:
        written = box.table_count(DEST_ACCOUNT)
        if written >= copy.items_sent:
            break
        time.sleep(poll_s)
    last_write = time.perf_counter()
    if written < copy.items_sent:
        raise RuntimeError(
            f"end-to-end: {written} of {copy.items_sent} items arrived within {timeout_s:.0f} s"
        )
    span = last_write - first_read
    return EndToEndResult(
        items=copy.items_sent,
        copy_elapsed_s=copy.elapsed_s,
        first_read_to_last_write_s=span,
        items_per_s=copy.items_sent / span,
        copy_items_per_s=copy.items_per_s,
    )
