"""`asynccopy consume`: the consumer Lambda's handler, run locally against a queue.

config.py    RunnerConfig: what to read, where to write, how many batches at once
clients.py   plain boto3 clients from the AWS-CLI-style credential flags
queues.py    the dead-letter queue of the queue consumed, from its redrive policy
events.py    SQS messages -> a Lambda-shaped event, and a context with a deadline
stats.py     thread-safe counters and the run's summary
runner.py    the poll -> handle -> delete loop (the event source mapping's semantics)
progress.py  a live display or periodic lines on stderr, read from the counters
"""
