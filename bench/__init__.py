"""Benchmarks: each ``bench_*.py`` module compares implementations in one process run
and writes its figures (medians of repeats, peak RSS) to ``bench/results/``."""
