"""`asynccopy verify`'s core: a VerifyConfig in, a VerifyResult (the differences) out.

verify.py    read the selection at the source and the destination, compare page by page
compare.py   items compared exactly: numbers as numbers, sets as sets, binary by bytes
"""
