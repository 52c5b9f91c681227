"""What the proxy does to requests: `FaultConfig`, frozen, changed at run time with `replace`.

In (keyword arguments, JSON from the control endpoint, or command-line flags) -> out (a
validated config; rates are probabilities per request).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from benchmarks.faultproxy.capacity import CapacityKind
from benchmarks.faultproxy.protocol import JSONObject


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass(frozen=True, kw_only=True, slots=True)
class FaultConfig:
    """What the proxy does to requests. Rates are probabilities per request (0..1)."""

    seed: int | None = field(default=None, metadata=_help("random seed (reproducible runs)"))
    fault_accounts: frozenset[str] = field(
        default=frozenset(), metadata=_help("injected faults only for these accounts (all)")
    )
    fault_targets: frozenset[str] = field(
        default=frozenset(),
        metadata=_help(
            "injected faults only for these targets, e.g. BatchWriteItem or "
            "AmazonSQS.SendMessageBatch (all)"
        ),
    )
    latency_ms: float = field(default=0.0, metadata=_help("fixed latency added"))
    latency_jitter_ms: float = field(default=0.0, metadata=_help("uniform extra latency, up to"))
    throttle_rate: float = field(default=0.0, metadata=_help("answer ThrottlingException (400)"))
    error_500_rate: float = field(default=0.0, metadata=_help("answer 500 InternalServerError"))
    error_503_rate: float = field(default=0.0, metadata=_help("answer 503 ServiceUnavailable"))
    drop_request_rate: float = field(
        default=0.0, metadata=_help("close the connection before forwarding")
    )
    drop_response_rate: float = field(
        default=0.0, metadata=_help("forward, then close the connection without the response")
    )
    batch_trim_rate: float = field(
        default=0.0, metadata=_help("forward only part of a BatchGetItem/BatchWriteItem")
    )
    batch_keep_share: float = field(
        default=0.5,
        metadata=_help(
            "share of a trimmed batch forwarded (at least one); 0 answers "
            "ProvisionedThroughputExceededException"
        ),
    )
    send_batch_fault_rate: float = field(
        default=0.0, metadata=_help("fail entries of a SendMessageBatch")
    )
    send_batch_fail_share: float = field(
        default=0.5, metadata=_help("share of its entries failed with InternalError")
    )
    send_batch_sender_fault_share: float = field(
        default=0.0, metadata=_help("share of its entries failed with SenderFault true")
    )
    read_capacity_rcu_per_s: float | None = field(
        default=None, metadata=_help("provisioned reads of every table (unlimited)")
    )
    write_capacity_wcu_per_s: float | None = field(
        default=None, metadata=_help("provisioned writes of every table (unlimited)")
    )
    table_read_capacity_rcu_per_s: Mapping[str, float] = field(
        default_factory=dict,
        metadata=_help("[ACCOUNT/]TABLE=RCU: provisioned reads of one table"),
    )
    table_write_capacity_wcu_per_s: Mapping[str, float] = field(
        default_factory=dict,
        metadata=_help("[ACCOUNT/]TABLE=WCU: provisioned writes of one table"),
    )
    burst_s: float = field(
        default=1.0, metadata=_help("seconds of unused capacity a bucket keeps (AWS: 300)")
    )
    measure_capacity: bool = field(
        default=False,
        metadata=_help("count consumed units of every table, even unlimited ones"),
    )

    def __post_init__(self) -> None:
        for name in (
            "throttle_rate",
            "error_500_rate",
            "error_503_rate",
            "drop_request_rate",
            "drop_response_rate",
            "batch_trim_rate",
            "batch_keep_share",
            "send_batch_fault_rate",
            "send_batch_fail_share",
            "send_batch_sender_fault_share",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
        if self.send_batch_fail_share + self.send_batch_sender_fault_share > 1.0:
            raise ValueError(
                "send_batch_fail_share + send_batch_sender_fault_share must not exceed 1, got "
                f"{self.send_batch_fail_share} + {self.send_batch_sender_fault_share}"
            )
        for name in ("latency_ms", "latency_jitter_ms", "burst_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)!r}")
        for name in ("read_capacity_rcu_per_s", "write_capacity_wcu_per_s"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative, got {value!r}")
        for name in ("table_read_capacity_rcu_per_s", "table_write_capacity_wcu_per_s"):
            mapping = {str(k): float(v) for k, v in getattr(self, name).items()}
            for table, units in mapping.items():
                if units < 0:
                    raise ValueError(f"{name}[{table!r}] must not be negative, got {units!r}")
            object.__setattr__(self, name, MappingProxyType(mapping))
        for name in ("fault_accounts", "fault_targets"):
            object.__setattr__(self, name, frozenset(getattr(self, name)))

    @property
    def injects_faults(self) -> bool:
        return any(
            getattr(self, name) > 0
            for name in (
                "latency_ms",
                "latency_jitter_ms",
                "throttle_rate",
                "error_500_rate",
                "error_503_rate",
                "drop_request_rate",
                "drop_response_rate",
                "batch_trim_rate",
                "send_batch_fault_rate",
            )
        )

    @property
    def limits_capacity(self) -> bool:
        return (
            self.read_capacity_rcu_per_s is not None
            or self.write_capacity_wcu_per_s is not None
            or bool(self.table_read_capacity_rcu_per_s)
            or bool(self.table_write_capacity_wcu_per_s)
        )

    def capacity_per_s(self, kind: CapacityKind, account: str, table: str) -> float | None:
        """The table's provisioned units per second: `account/table`, then `table`, then all."""
        if kind == "read":
            per_table, default = self.table_read_capacity_rcu_per_s, self.read_capacity_rcu_per_s
        else:
            per_table, default = self.table_write_capacity_wcu_per_s, self.write_capacity_wcu_per_s
        found = per_table.get(f"{account}/{table}")
        if found is None:
            found = per_table.get(table)
        return default if found is None else found

    def as_json(self) -> JSONObject:
        out: JSONObject = {}
        for spec in fields(self):
            value = getattr(self, spec.name)
            if isinstance(value, frozenset):
                value = sorted(value)
            elif isinstance(value, Mapping):
                value = dict(value)
            out[spec.name] = value
        return out

    @classmethod
    def coerce_changes(cls, changes: Mapping[str, Any]) -> JSONObject:
        """JSON changes (lists, objects) as keyword arguments for `replace`; rejects unknown."""
        kinds = {spec.name: str(spec.type) for spec in fields(cls)}
        out: JSONObject = {}
        for name, value in changes.items():
            kind = kinds.get(name)
            if kind is None:
                raise ValueError(f"unknown FaultConfig field {name!r}; known: {sorted(kinds)}")
            out[name] = _coerce(kind, name, value)
        return out


def _coerce(kind: str, name: str, value: Any) -> Any:
    if value is None and "None" in kind:
        return None
    if kind.startswith("frozenset"):
        items = value.split(",") if isinstance(value, str) else list(value)
        return frozenset(str(v).strip() for v in items if str(v).strip())
    if kind.startswith("Mapping"):
        if not isinstance(value, Mapping):
            raise ValueError(f"{name} must be an object of table -> units, got {value!r}")
        return {str(k): float(v) for k, v in value.items()}
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false, got {value!r}")
        return value
    if kind.startswith("int"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be an integer, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return float(value)
