"""`--rate` parsing and resolution against the table's capacity."""

from __future__ import annotations

import pytest

from asynccopy.bench.bench import resolve_base_rate
from asynccopy.errors import InputError, RateError
from asynccopy.read.rate import DEFAULT_ON_DEMAND_RCU_PER_S, parse_rate, resolve_rate
from asynccopy.read.tables import TableInfo, parse_table_description, resolve_table_rate


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


# ---- an on-demand table's ceiling, from DescribeTable ----------------------------------------
def _on_demand(**extra: object) -> TableInfo:
    return parse_table_description(
        {
            "TableName": "users",
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"},
            "ProvisionedThroughput": {"ReadCapacityUnits": 0, "WriteCapacityUnits": 0},
            **extra,
        }
    )


def test_an_on_demand_table_reports_its_warm_throughput_and_maximum() -> None:
    table = _on_demand(
        WarmThroughput={"ReadUnitsPerSecond": 24_000, "WriteUnitsPerSecond": 8_000},
        OnDemandThroughput={"MaxReadRequestUnits": 5_000, "MaxWriteRequestUnits": -1},
    )
    assert table.warm_read_units_per_s == 24_000
    assert table.max_on_demand_read_units == 5_000
    assert table.on_demand_read_ceiling == 5_000  # the lower of the two
    warm_only = _on_demand(WarmThroughput={"ReadUnitsPerSecond": 24_000})
    assert warm_only.on_demand_read_ceiling == 24_000
    # -1 removes the maximum; an emulator's 0 warm throughput says nothing.
    unknown = _on_demand(
        WarmThroughput={"ReadUnitsPerSecond": 0}, OnDemandThroughput={"MaxReadRequestUnits": -1}
    )
    assert unknown.on_demand_read_ceiling is None


def test_the_default_rate_and_shares_follow_an_on_demand_table_s_ceiling() -> None:
    table = _on_demand(WarmThroughput={"ReadUnitsPerSecond": 12_000})
    default = resolve_table_rate(parse_rate(None), table)
    assert default.rcu_per_s == 6_000
    assert "warm throughput 12000" in default.description
    assert "(the default)" in default.description
    assert resolve_table_rate(parse_rate("40%"), table).rcu_per_s == 4_800
    assert resolve_table_rate(parse_rate("300"), table).rcu_per_s == 300
    # Neither reported: the fixed default, and no share to take.
    plain = _on_demand()
    assert resolve_table_rate(parse_rate(None), plain).rcu_per_s == DEFAULT_ON_DEMAND_RCU_PER_S
    with pytest.raises(RateError):
        resolve_table_rate(parse_rate("40%"), plain)


def test_bench_steps_through_an_on_demand_table_s_ceiling() -> None:
    table = _on_demand(OnDemandThroughput={"MaxReadRequestUnits": 400})
    base, described = resolve_base_rate(None, table)
    assert base == 400
    assert "MaxReadRequestUnits 400" in described
    with pytest.raises(InputError, match="--rate"):
        resolve_base_rate(None, _on_demand())
