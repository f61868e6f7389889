"""Benchmarks of the kit against stock Feast (run through ``featurekit bench``)."""
