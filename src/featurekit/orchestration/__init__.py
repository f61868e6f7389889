"""Airflow orchestration generated from the feature repo: one DAG per ``schedule`` tag (``hourly``, ``daily``).

``manifest`` derives the cheap list of views the DAG file needs, ``factory`` builds the DAGs, ``tasks`` holds the
task bodies (thin calls into :mod:`featurekit.pipelines` and :mod:`featurekit.quality`), ``task_process`` runs
them in the Airflow process or in the kit's own environment (MWAA), ``runner`` runs a DAG for
one interval with ``dag.test()`` (demo, CLI, tests). Nothing here imports Feast, pandas or Spark at module level:
Airflow re-parses DAG files every few seconds, and the parse must stay well under a second.
"""
