"""Spark Structured Streaming from Kafka into the online store (newer-wins) and the offline store (``stream-`` files).

The jobs are generated from the feature repo's stream views (declarations read by ``featurekit.repo.streams``).
``kafka_source``: the ``featurekit-kafka`` Python data source (same options and columns as Spark's ``kafka``
format; its options, broker probe and range reader in ``kafka_options``, ``kafka_probe``, ``kafka_read``),
``available_now``: catch-up runs over it on Spark 4.0, ``events``: a view's event schema and the validation into
good rows and dead letters, ``transforms``: the generated latest-value and windowed transformations, ``sink``: the
idempotent foreachBatch writer, ``jobs``: one job per stream view and its supervisor, ``producer``: topics and a
producer. See ``docs/streaming.md``.
"""
