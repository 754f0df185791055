"""Benchmarks: runnable scripts, not tests (see benchmarks/README.md)."""
