"""The destination side of asynccopy: an SQS-triggered Lambda that writes the items it receives.

Standard library, boto3 and `asynccopy.codec` only: the function's zip holds nothing else.

    contract.py           the Lambda wire types: SQS event in, partial batch response out
    config.py             TABLE_NAME and WRITE_MODE, parsed once
    table.py              the destination table's key schema (DescribeTable), checked per item
    message.py            one SQS record decoded into items, or the reason it cannot be
    backoff.py            jittered exponential backoff bounded by the invocation's deadline
    results.py            what happened to each message and to the batch
    writer.py             the Writer protocol and the factory choosing one by write mode
    batch_writer.py       overwrite: BatchWriteItem, UnprocessedItems retried until the deadline
    conditional_writer.py skip-existing / newer-wins: concurrent conditional PutItem
    handler.py            lambda_handler and handle_batch, the core the local runner shares
"""
