"""A fault-injection reverse proxy in front of the sandbox: a test and benchmark tool.

Point a boto3 client's ``endpoint_url`` at the proxy; it forwards every request unchanged to
the upstream server (method, path and query, headers including ``Host`` and ``Authorization``,
body byte for byte) and hands back the upstream response (status, headers without hop-by-hop
ones, body). On the way it can do what real AWS does to a client under load:

* enforce a table's provisioned capacity with a token bucket per (account, table), reads and
  writes apart, answering ``ProvisionedThroughputExceededException`` while a bucket is in debt;
* answer ``ThrottlingException`` (400), 500 or 503, add latency, drop the connection before the
  request is forwarded (nothing applied) or after (applied, answer lost);
* forward only part of a ``BatchGetItem`` / ``BatchWriteItem`` and hand the rest back as
  ``UnprocessedKeys`` / ``UnprocessedItems``; fail part of a ``SendMessageBatch`` in ``Failed``;
* add the ``ConsumedCapacity`` real DynamoDB would report (ministack leaves it out of
  ``BatchGetItem`` and reports a flat 0.5/1 for ``GetItem`` whatever the item's size).

The package, from the request to the answer::

    server.py     FaultProxy (a background thread) and serve() (a process) around the engine
    engine.py     the request path: faults, forwarding, capacity checks, control endpoints
    protocol.py   which AWS JSON call a request is; error answers shaped like AWS's
    batches.py    the fault plans that cut a batch: trimmed, held back, failed entries
    capacity.py   units a request consumes, from DynamoDB's documentation
    sizes.py      item sizes, from DynamoDB's documentation (never from asynccopy: the
                  checker shares no code with what it checks)
    meter.py      the token bucket that enforces provisioned capacity
    stats.py      counters and consumed units
    config.py     FaultConfig
    cli.py        python -m benchmarks.faultproxy

Usage::

    with FaultProxy(sandbox.endpoint_url, FaultConfig(seed=1)) as proxy:
        ddb = boto3.client("dynamodb", endpoint_url=proxy.url, ...)
        proxy.configure(table_read_capacity_rcu_per_s={"users": 100.0})
        ...
        proxy.stats().counters["capacity_exceeded"]

    python -m benchmarks.faultproxy --upstream http://127.0.0.1:4566 --port 4567 \\
        --throttle-rate 0.1

Control endpoints (the prefix cannot collide with AWS: S3 bucket names cannot start with ``_``)::

    GET  /_faultproxy/health   {"ok": true}
    GET  /_faultproxy/stats    counters and consumed capacity as JSON
    POST /_faultproxy/reset    zero the counters and refill every bucket
    GET  /_faultproxy/config   the current FaultConfig as JSON
    POST /_faultproxy/config   {"throttle_rate": 0.5, ...}: changes, answered with the new config

Rules and limits:

* Only AWS JSON protocol calls (those with an ``X-Amz-Target`` header, e.g.
  ``DynamoDB_20120810.BatchGetItem`` or ``AmazonSQS.SendMessageBatch`` -- boto3 1.40.61 speaks
  the JSON protocol to SQS) get faults; anything else is forwarded untouched. The account is the
  access key id of the ``Credential=<AKID>/...`` in ``Authorization`` (the sandbox uses the
  12-digit account id as the key id).
* Every injected fault (latency, errors, drops, trims, failed entries) shares one scope:
  ``fault_accounts`` and ``fault_targets`` (empty means all). Capacity is per table instead.
  For differently scoped faults, run two proxies (one per client).
* Trimming a batch or failing entries rewrites the request body, which breaks its SigV4
  signature. That is fine here: ministack 1.5.33 checks signatures only when started with
  ``AUTH=true`` (``ministack/app.py``), and even then never for root keys such as the
  sandbox's 12-digit account ids (``caller_verified`` in ``ministack/core/iam_evaluator.py``);
  the sandbox server starts without ``AUTH``. Against real AWS the proxy must not rewrite.
* Costs follow the AWS rules (``capacity.py``, ``sizes.py``) but are computed from what the
  response shows: a ``ProjectionExpression`` or ``FilterExpression`` hides bytes DynamoDB bills
  for (a Query/Scan page is scaled up by ScannedCount/Count when both are known), a delete or
  an update costs 1 WCU, a put costs by the new item's size.
* The proxy charges a bucket after the response (the cost is only known then) and refuses new
  requests while the bucket is empty or in debt, so concurrent requests may overdraw it by
  their own cost, as DynamoDB's burst accounting does.
* Random choices come from one ``random.Random(seed)`` used in request order: with a seed and
  one request at a time, a run is reproducible.
"""

from benchmarks.faultproxy.capacity import read_units, write_units
from benchmarks.faultproxy.cli import build_parser, config_from_args, main
from benchmarks.faultproxy.config import FaultConfig
from benchmarks.faultproxy.engine import CONTROL_PREFIX
from benchmarks.faultproxy.meter import TokenBucket
from benchmarks.faultproxy.server import FaultProxy, serve
from benchmarks.faultproxy.sizes import wire_item_size_bytes
from benchmarks.faultproxy.stats import COUNTERS, ProxyStats

__all__ = [
    "CONTROL_PREFIX",
    "COUNTERS",
    "FaultConfig",
    "FaultProxy",
    "ProxyStats",
    "TokenBucket",
    "build_parser",
    "config_from_args",
    "main",
    "read_units",
    "serve",
    "wire_item_size_bytes",
    "write_units",
]
