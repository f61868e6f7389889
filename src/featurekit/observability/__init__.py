"""Observability: Prometheus metric definitions shared by every featurekit component."""
