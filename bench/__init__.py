"""Benchmarks: `make bench` (see BENCHMARKS.md). Timings are not unit tests: `make test` only
runs a tiny spike (bench/tests/) to keep the tool itself working."""
