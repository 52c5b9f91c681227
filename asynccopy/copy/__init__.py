"""`asynccopy copy`'s core: a CopyConfig in, a CopySummary out.

copier.py      validate everything, then run the pipeline, then summarize
pipeline.py    the task graph (read -> pack -> send): the only module with task groups
               and streams
checkpoint.py  what SQS acknowledged, recorded for --resume
stats.py       counters the stages update
progress.py    the live display, read from the counters
summary.py     the run's summary: rendered as text or JSON
"""
