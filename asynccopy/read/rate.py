"""`--rate`: read capacity units per second taken from the source table.

200     200 RCU/s
40%     40% of the table's provisioned read capacity
max     no limit (throttling still slows the copy down)
(none)  50% of provisioned RCU

On an on-demand table the share is of its read ceiling, where DescribeTable reports one: the
lower of its WarmThroughput.ReadUnitsPerSecond (what it serves at once) and its
OnDemandThroughput.MaxReadRequestUnits (its owner's cap); with neither, the default is
DEFAULT_ON_DEMAND_RCU_PER_S and a percentage is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Final

from asynccopy.errors import RateError

DEFAULT_PROVISIONED_SHARE_PERCENT: Final = 50
# A new on-demand table serves about 12,000 reads per second at once; take a small share of
# that by default so a copy does not crowd out the table's own traffic.
DEFAULT_ON_DEMAND_RCU_PER_S: Final = 1_000
MAX_RCU_PER_S: Final = 10_000_000

_NUMBER: Final = re.compile(r"[0-9]+(?:\.[0-9]+)?")


@dataclass(frozen=True, kw_only=True, slots=True)
class RateSpec:
    """What the user asked for; `resolve` turns it into RCU/s once the table is known."""

    text: str  # as given, for messages; "" for the default
    rcu_per_s: float | None = None  # an absolute rate
    percent_of_provisioned: float | None = None
    unlimited: bool = False

    @property
    def is_default(self) -> bool:
        return self.text == ""


# No --rate: half of the table's provisioned reads.
DEFAULT_RATE: Final = RateSpec(text="", percent_of_provisioned=DEFAULT_PROVISIONED_SHARE_PERCENT)


@dataclass(frozen=True, kw_only=True, slots=True)
class ResolvedRate:
    rcu_per_s: float | None  # None: no limit
    description: str  # how it was chosen, printed at start


def parse_number(text: str) -> Fraction | None:
    """Digits with an optional fraction (`40`, `12.5`), exactly; None for anything else (a
    sign, an exponent, a word). The number syntax of --rate, and of bench's --steps."""
    return Fraction(text) if _NUMBER.fullmatch(text) else None


def _positive(text: str, number_text: str, what: str) -> float:
    if number_text.startswith("-") and parse_number(number_text[1:].strip()) is not None:
        raise RateError(text=text, problem=f"{what} must be more than zero")
    value = parse_number(number_text)
    if value is None:
        raise RateError(text=text, problem=f"{what} is not a number")
    if value <= 0:
        raise RateError(text=text, problem=f"{what} must be more than zero")
    return value.numerator / value.denominator


def parse_rate(text: str | None) -> RateSpec:
    """A RateSpec from the flag's text; raises RateError for 0, negatives and words."""
    if text is None or text.strip() == "":
        return DEFAULT_RATE
    cleaned = text.strip().lower()
    if cleaned in ("max", "unlimited"):
        return RateSpec(text=text, unlimited=True)
    if cleaned.endswith("%"):
        percent = _positive(text, cleaned[:-1].strip(), "the percentage")
        if percent > 100:
            raise RateError(text=text, problem="a share of provisioned capacity is at most 100%")
        return RateSpec(text=text, percent_of_provisioned=percent)
    rate = _positive(text, cleaned, "the rate")
    if rate > MAX_RCU_PER_S:
        raise RateError(text=text, problem=f"more than {MAX_RCU_PER_S} RCU/s; use max")
    return RateSpec(text=text, rcu_per_s=rate)


def resolve_rate(
    spec: RateSpec,
    *,
    provisioned_rcu: int,
    table: str = "the table",
    on_demand_ceiling_rcu: int | None = None,
    ceiling_description: str = "",
) -> ResolvedRate:
    """RCU/s for a table with `provisioned_rcu` (0 for on-demand), or an on-demand table's
    `on_demand_ceiling_rcu` (TableInfo.on_demand_read_ceiling), if known; `table` names it in
    errors (e.g. "the destination table 'users'")."""
    if spec.unlimited:
        return ResolvedRate(rcu_per_s=None, description="no limit (--rate max)")
    if spec.rcu_per_s is not None:
        return ResolvedRate(rcu_per_s=spec.rcu_per_s, description=f"{spec.rcu_per_s:g} RCU/s")
    percent = spec.percent_of_provisioned
    assert percent is not None
    default = " (the default)" if spec.is_default else ""
    if provisioned_rcu <= 0 and on_demand_ceiling_rcu is not None:
        rate = on_demand_ceiling_rcu * percent / 100
        source = f"; {ceiling_description}" if ceiling_description else ""
        return ResolvedRate(
            rcu_per_s=rate,
            description=(
                f"{rate:g} RCU/s = {percent:g}% of the on-demand table's read ceiling, "
                f"{on_demand_ceiling_rcu}{source}{default}"
            ),
        )
    if provisioned_rcu <= 0:
        if spec.is_default:
            return ResolvedRate(
                rcu_per_s=DEFAULT_ON_DEMAND_RCU_PER_S,
                description=(
                    f"{DEFAULT_ON_DEMAND_RCU_PER_S} RCU/s, the default for an on-demand table "
                    f"(set --rate to change it)"
                ),
            )
        raise RateError(
            text=spec.text,
            problem=f"{table} is on-demand, so it has no provisioned capacity to take a share of",
        )
    rate = provisioned_rcu * percent / 100
    return ResolvedRate(
        rcu_per_s=rate,
        description=f"{rate:g} RCU/s = {percent:g}% of {provisioned_rcu} provisioned RCU{default}",
    )
