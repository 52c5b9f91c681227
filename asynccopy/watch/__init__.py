"""The write side of a copy, seen from its queues: what waits, what is in flight, what died.

watcher.py   queue + dead-letter depths polled -> WatchUpdate (each poll) -> WatchResult
             (drained, timed out, or one look); shared by `status` and `copy --wait`
clients.py   the synchronous SQS client for a queue URL, from the credential flags
deadletters.py  the dead-letter queue read without consuming it, and redriven
display.py   WatchUpdate -> a live line on a terminal, plain lines otherwise
"""
