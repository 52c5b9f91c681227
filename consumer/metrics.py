"""One CloudWatch Embedded Metric Format line per invocation: metrics without API calls.

Lambda sends stdout to CloudWatch Logs, and CloudWatch extracts metrics from any log line that
is an EMF document ("Specification: Embedded metric format", CloudWatch User Guide): a JSON
object whose `_aws` member holds `Timestamp` (ms since the epoch) and `CloudWatchMetrics`, a
list of directives, each naming a `Namespace`, its `Dimensions` (lists of root member names,
at most 30 each) and its `Metrics` (at most 100, each a `Name` and a `Unit`). The dimension
values and the metric values are root members of the same object. Powertools' Metrics
(aws_lambda_powertools/metrics/provider/cloudwatch_emf) prints the same shape.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from consumer.results import BatchSummary

NAMESPACE: Final = "asynccopy"

# Metric name -> unit (a CloudWatch StandardUnit).
METRIC_UNITS: Final[Mapping[str, str]] = {
    "Messages": "Count",
    "MessagesFailed": "Count",
    "ItemsWritten": "Count",
    "ItemsSkipped": "Count",
    "ItemsRejected": "Count",
    "ItemsFailed": "Count",
    "Retries": "Count",
    "ThrottledCalls": "Count",
    "HandlerDuration": "Milliseconds",
}


@dataclass(frozen=True, kw_only=True, slots=True)
class InvocationMetrics:
    summary: BatchSummary
    throttled_calls: int  # DynamoDB calls answered with throttling or unprocessed items

    def values(self) -> dict[str, int]:
        s = self.summary
        return {
            "Messages": s.messages,
            "MessagesFailed": s.messages_failed,
            "ItemsWritten": s.items_written,
            "ItemsSkipped": s.items_skipped,
            "ItemsRejected": s.items_rejected,
            "ItemsFailed": s.items_failed,
            "Retries": s.retries,
            "ThrottledCalls": self.throttled_calls,
            "HandlerDuration": s.duration_ms,
        }

    def emf_line(self, *, dimensions: Mapping[str, str], timestamp_ms: int) -> str:
        """The EMF document, one line. `dimensions`, e.g. FunctionName and Table, name the
        series; a dimension whose value is empty is left out (CloudWatch refuses it)."""
        named = {name: value for name, value in dimensions.items() if value}
        values = self.values()
        document: dict[str, object] = {
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [
                    {
                        "Namespace": NAMESPACE,
                        "Dimensions": [list(named)],
                        "Metrics": [{"Name": name, "Unit": METRIC_UNITS[name]} for name in values],
                    }
                ],
            },
            **named,
            **values,
        }
        return json.dumps(document, ensure_ascii=True, separators=(",", ":"))
