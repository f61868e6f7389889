"""Data quality gate between extract and materialize: Great Expectations 1.x suites declared next to each view.

``suites`` reads ``feature_repo/feature_views/<view>.expectations.yaml``, ``validate`` checks one extracted
partition against it, ``quarantine`` keeps a failing batch with its report away from training data and Redis.
Great Expectations is imported only inside :func:`featurekit.quality.validate.validate_partition` (it costs seconds).
"""
