"""`asynccopy copy`'s core: a CopyConfig in, a CopySummary out.

copier.py      the run: prepare, then the pipeline under progress, Ctrl-C and checkpoint
prepare.py     everything checked before the first send: queue URL, clients, table, key plan
resume.py      the checkpoint during a run: resume it, write it, finish it
outcome.py     the summary (and a dry run's plan) from what the run counted
pipeline.py    the task graph (read -> pack -> send): the only module with task groups
               and streams
checkpoint.py  what SQS acknowledged, recorded for --resume
stats.py       counters the stages update
progress.py    the live display, read from the counters
summary.py     the run's summary: rendered as text or JSON
wording.py     counts in words ("1 item", "2,000 items"), for the summary and the sample
"""
