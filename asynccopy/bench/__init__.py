"""`asynccopy bench`'s core: a BenchConfig in, rate steps and a recommendation out.

bench.py     measuring: read throughput against capacity, one rate step at a time
steps.py     what a step measured (StepResult, Latency), the criteria, the recommendation record
advice.py    classifying (what limited each step) and recommending --rate and --concurrency
defaults.py  the step defaults the command line shows
(rendering is the command line's: asynccopy/cli/bench.py)
"""
