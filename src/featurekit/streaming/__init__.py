"""Spark Structured Streaming from Kafka into the online store (newer-wins) and the offline store (``stream-`` files).

``kafka_source``: the ``featurekit-kafka`` Python data source (same options and columns as Spark's ``kafka``
format), ``events``: declared event schemas and validation into good rows and dead letters, ``transforms``: the
stream feature views as DataFrame functions, ``sink``: the idempotent foreachBatch writer, ``jobs``: one application
per stream feature view group, ``producer``: synthetic events. See ``docs/streaming.md``.
"""
