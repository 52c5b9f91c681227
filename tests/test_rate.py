"""`--rate` parsing and resolution against the table's capacity."""

from __future__ import annotations

import pytest

from asynccopy.errors import RateError
from asynccopy.rate import DEFAULT_ON_DEMAND_RCU_PER_S, parse_rate, resolve_rate


@pytest.mark.parametrize(
    ("text", "provisioned", "expected"),
    [
        ("100", 0, 100),
        ("2.5", 0, 2.5),
        (" 40% ", 1000, 400),
        ("100%", 50, 50),
        ("max", 1000, None),
        ("MAX", 0, None),
        (None, 1000, 500),  # the default: half the provisioned RCU
        ("", 80, 40),
        (None, 0, DEFAULT_ON_DEMAND_RCU_PER_S),  # on-demand: the stated default
    ],
)
def test_rates(text: str | None, provisioned: int, expected: float | None) -> None:
    resolved = resolve_rate(parse_rate(text), provisioned_rcu=provisioned)
    assert resolved.rcu_per_s == expected
    assert resolved.description


def test_default_on_demand_is_described() -> None:
    resolved = resolve_rate(parse_rate(None), provisioned_rcu=0)
    assert "on-demand" in resolved.description


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("0", "must be more than zero"),
        ("0%", "must be more than zero"),
        ("-1", "must be more than zero"),
        ("abc", "not a number"),
        ("1e3", "not a number"),
        ("150%", "at most 100%"),
        ("nan", "not a number"),
        ("99999999999", "use max"),
    ],
)
def test_bad_rates(text: str, problem: str) -> None:
    with pytest.raises(RateError, match=problem) as caught:
        parse_rate(text)
    assert text in str(caught.value)


def test_a_share_of_an_on_demand_table_is_an_error() -> None:
    with pytest.raises(RateError, match="on-demand"):
        resolve_rate(parse_rate("40%"), provisioned_rcu=0)
