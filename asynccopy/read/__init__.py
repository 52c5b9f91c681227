"""Reading the source table: what to read in, pages of items out.

In:  a selection (a key file, a Query or a Scan; config.py), the source's DynamoDB client, a
     read-capacity budget (--rate). Out: `Page`s of items in AttributeValue JSON, each with the
     position a checkpoint records. Nothing here knows of SQS.

    keys.py      key lines and JSON values, typed by the table's key schema
    numbers.py   DynamoDB numbers compared and limited exactly, on their text
    dedupe.py    exact duplicate keys in a key file, in about 11 bytes per key
    tables.py    DescribeTable: key schema, billing mode, capacity
    itemsize.py  item sizes and read-capacity costs, by DynamoDB's published rules
    rate.py      --rate: read capacity units per second taken from the source table
    limiter.py   the read budget: a token bucket charged with the RCU each call consumed

    base.py      Source, Page, positions, and ReadContext: the metered, retried call
    factory.py   the Source a selection names, sized to the read budget
    keyfile.py   key chunks (<= 100 keys) -> BatchGetItem, UnprocessedKeys retried
    paging.py    Query and Scan pages: LastEvaluatedKey followed, each page metered
    query.py     one Query, paged
    scan.py      scan segments, each paged

Sources know nothing of sending; asynccopy/copy/pipeline.py runs `units()` through
`pages(unit)` with several workers.
"""
