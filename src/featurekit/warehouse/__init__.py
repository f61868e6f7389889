"""The warehouse: where the platform's raw data lives (DuckDB locally, Glue/Athena on AWS).

``sql`` loads a feature view's Athena-dialect SQL and renders it for an interval; ``engines.engine_for`` runs it on
the configured warehouse through one engine module per backend (``duckdb``, ``athena``, both behind
``engine.WarehouseEngine``) and returns Arrow tables; ``load`` fills the local DuckDB file.
"""
