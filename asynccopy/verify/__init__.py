"""`asynccopy verify`'s core: a VerifyConfig in, a VerifyResult (the differences) out.

config.py    VerifyConfig
tables.py    the checks before any item is read: both tables described, distinct, same keys
verify.py    read the selection at the source and the destination, compare page by page
result.py    the tally the checkers keep, and the VerifyResult (text, JSON, exit code)
compare.py   items compared exactly: numbers as numbers, sets as sets, binary by bytes
"""
