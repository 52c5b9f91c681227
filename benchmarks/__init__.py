"""asynccopy's benchmarks: `make bench` (python -m benchmarks); see benchmarks/README.md."""
