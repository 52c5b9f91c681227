"""The destination side of asynccopy: an SQS-triggered Lambda that writes the items it receives.

Standard library, boto3 and botocore only: the function's zip is this package as it is, nothing
else (asynccopy/sandbox/package.py), and the producer imports the wire format from it.

    wire.py               the message body: AttributeValue JSON in a versioned envelope
    contract.py           the Lambda wire types: SQS event in, partial batch response out
    config.py             TABLE_NAME, WRITE_MODE, DEAD_LETTER_QUEUE_URL, CONSUMER_ENGINE
    table.py              the destination table's key schema (DescribeTable), checked per item
    message.py            one SQS record decoded into items, or the reason it cannot be
    calls.py              clients whose every call ends before the invocation's deadline
    retry.py              the one retry policy (the producer's too): retryable errors, jittered
                          backoff, the invocation's deadline
    fast_dynamodb.py      the fast engine: signed JSON requests, no serializer or parser
    engines.py            CONSUMER_ENGINE: fast (the default) or botocore's client
    errors.py             DynamoDB's error codes that refuse an item for good
    versions.py           the newer-wins rule
    dead_letters.py       refused items, each sent alone to the dead-letter queue
    results.py            what happened to each item, each message and the batch
    writer.py             the Writer protocol and the factory choosing one by write mode
    item_writer.py        one item, one PutItem (conditional or not); refusals rejected
    batch_writer.py       overwrite: BatchWriteItem, UnprocessedItems retried until the deadline
    conditional_writer.py skip-existing / newer-wins: concurrent conditional PutItem
    throttles.py          counting the calls DynamoDB throttled, for the metrics
    metrics.py            the invocation's metrics as one CloudWatch EMF log line
    handler.py            lambda_handler and handle_batch, the core the local runner shares
"""
