"""Benchmarks that write measured numbers, with their provenance, into docs/benchmarks.md."""
