"""The tiered Redis online store (a Feast online store loaded by import path).

Feast loads it from ``feature_store.yaml`` as ``type: featurekit.online_store.store.TieredRedisOnlineStore``. This
package ``__init__`` stays free of heavy imports so that the settings model (``config.py``) can be read by Airflow's
DAG parser without importing Feast.
"""
