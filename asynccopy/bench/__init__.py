"""`asynccopy bench`'s core: a BenchConfig in, rate steps and a recommendation out.

bench.py     read throughput against capacity, one rate step at a time, and what limited it
defaults.py  the step defaults the command line shows
"""
