"""Data monitoring: partition profiles, drift and slice outages, broken sources and their blast radius.

Fixed expectations (the GX suites) catch what someone thought of in advance; this package catches what passes them:
a distribution that shifts, a feature that goes null for one slice of users only, an upstream table that arrives
empty, late or partial. Everything here reads the offline store and the feature definitions; nothing writes to the
online store.
"""
