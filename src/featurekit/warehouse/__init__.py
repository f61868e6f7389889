"""The warehouse: where the platform's raw data lives (DuckDB locally, Glue/Athena on AWS).

``generate`` makes a synthetic fintech warehouse; ``sql`` loads a feature view's Athena-dialect SQL and renders it
for an interval; ``engines`` run that SQL on the configured warehouse and return Arrow tables.
"""
