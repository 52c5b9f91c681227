"""The consumer's configuration, read from the function's environment."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

WriteModeKind = Literal["overwrite", "skip-existing", "newer-wins"]
ConsumerEngine = Literal["fast", "botocore"]  # see consumer.engines

DEFAULT_WRITE_THREADS: Final = 8
# DynamoDB attribute names are 1..255 bytes; anything printable goes, the expression uses #names.
_ATTRIBUTE_NAME: Final = re.compile(r"[^\x00-\x1f]{1,255}")


class ConfigError(ValueError):
    """The function's environment does not configure the consumer."""

    def __init__(self, *, variable: str, value: str | None, problem: str) -> None:
        self.variable = variable
        self.value = value
        self.problem = problem
        super().__init__(f"{variable}={value!r}: {problem}")


@dataclass(frozen=True, kw_only=True, slots=True)
class WriteMode:
    """How an item that already exists in the destination is treated."""

    kind: WriteModeKind
    attribute: str | None = None  # newer-wins only: the version attribute, compared with `<`

    @classmethod
    def parse(cls, text: str) -> WriteMode:
        name, _, attribute = text.strip().partition(":")
        if name == "newer-wins":
            if not _ATTRIBUTE_NAME.fullmatch(attribute):
                raise ConfigError(
                    variable="WRITE_MODE",
                    value=text,
                    problem="newer-wins needs the attribute to compare, e.g. newer-wins:updatedAt",
                )
            return cls(kind="newer-wins", attribute=attribute)
        if name in ("overwrite", "skip-existing") and not attribute:
            return cls(kind="overwrite" if name == "overwrite" else "skip-existing")
        raise ConfigError(
            variable="WRITE_MODE",
            value=text,
            problem="expected overwrite, skip-existing or newer-wins:<attribute>",
        )

    def __str__(self) -> str:
        return f"{self.kind}:{self.attribute}" if self.attribute else self.kind


@dataclass(frozen=True, kw_only=True, slots=True)
class ConsumerConfig:
    table_name: str
    write_mode: WriteMode
    write_threads: int = DEFAULT_WRITE_THREADS  # concurrent PutItem calls per invocation
    # Stop retrying this long before Lambda's timeout, so the response (and the log line)
    # still goes out: a timed-out invocation fails every message in the batch.
    safety_margin_ms: int = 5_000
    # Where items the destination refuses for good go, one message each (the template sets it
    # to its dead-letter queue). None: a refused item fails its message, which is retried.
    dead_letter_queue_url: str | None = None
    engine: ConsumerEngine = "fast"

    def __post_init__(self) -> None:
        if not self.table_name:
            raise ConfigError(
                variable="TABLE_NAME", value=self.table_name, problem="name the destination table"
            )
        if not 1 <= self.write_threads <= 64:
            raise ConfigError(
                variable="WRITE_THREADS",
                value=str(self.write_threads),
                problem="must be 1..64",
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ConsumerConfig:
        threads = environ.get("WRITE_THREADS", str(DEFAULT_WRITE_THREADS))
        try:
            write_threads = int(threads)
        except ValueError:
            raise ConfigError(
                variable="WRITE_THREADS", value=threads, problem="must be an integer"
            ) from None
        engine = environ.get("CONSUMER_ENGINE", "fast")
        if engine not in ("fast", "botocore"):
            raise ConfigError(
                variable="CONSUMER_ENGINE", value=engine, problem="expected fast or botocore"
            )
        return cls(
            engine="fast" if engine == "fast" else "botocore",
            table_name=environ.get("TABLE_NAME", ""),
            write_mode=WriteMode.parse(environ.get("WRITE_MODE", "overwrite")),
            write_threads=write_threads,
            dead_letter_queue_url=environ.get("DEAD_LETTER_QUEUE_URL") or None,
        )
