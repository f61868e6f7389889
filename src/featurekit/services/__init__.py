"""Local services the kit can start for itself: a Redis server and a Kafka-compatible broker.

Production points the configuration at managed services (ElastiCache, MSK); these launchers exist for the
embedded ``local`` environment, the demo and the tests, so that all three run the same real servers.
"""
