"""Pipeline steps as plain functions: extract (warehouse -> offline partition) and materialize (offline partition
-> online store). Airflow tasks, the CLI and the demo all call these; none of them needs Airflow to run."""
