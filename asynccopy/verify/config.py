"""`asynccopy verify`'s configuration: what to compare, where, and how fast."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from asynccopy.aws import AwsTarget
from asynccopy.config import DEFAULT_CONCURRENCY, Engine, Selection
from asynccopy.read.projection import Projection
from asynccopy.read.rate import DEFAULT_RATE, RateSpec
from asynccopy.retry import RetryPolicy

if TYPE_CHECKING:
    from asynccopy.copy.transform import Transform


@dataclass(frozen=True, kw_only=True, slots=True)
class VerifyConfig:
    table: str
    selection: Selection
    dest_table: str | None = None  # None: the source table's name
    source: AwsTarget = field(default_factory=AwsTarget)
    dest: AwsTarget = field(default_factory=AwsTarget)  # unset fields default to the source's
    rate: RateSpec = DEFAULT_RATE
    consistent_read: bool = False
    concurrency: int = DEFAULT_CONCURRENCY
    keys_shown: int = 5
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    engine: Engine = Engine.FAST
    projection: Projection | None = None  # None: whole items; else both sides read alike
    transform: Transform | None = None  # --transform: applied to the source's items first

    @property
    def dest_target(self) -> AwsTarget:
        return self.dest.or_else(self.source)
