"""Benchmarks of the whole pipeline and of the statement kernel, and the synthetic-org generator."""
