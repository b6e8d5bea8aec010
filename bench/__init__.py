"""The benchmark of issue 6: `python -m bench` (or `make bench`); see bench/RESULTS.md."""
