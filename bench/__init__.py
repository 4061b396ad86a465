"""Benchmarks: run with `make bench`; never part of `make test` (timings are not unit tests)."""
