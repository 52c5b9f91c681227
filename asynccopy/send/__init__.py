"""Sending: items in, SendMessageBatch calls out.

In:  items (AttributeValue JSON) and the queue's MaximumMessageSize. Out: messages in
     consumer/wire.py's format, grouped into SendMessageBatch calls, and what SQS acknowledged.

    packing.py    items -> messages (<= 25 items, <= MaximumMessageSize) -> batches (<= 10)
    sender.py     one SendMessageBatch per batch (or the dry-run sender), failures retried
    queueurl.py   the queue URL checked against the queue side's region and endpoint
"""
