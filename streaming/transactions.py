"""Spark application ``transactions``: transactions -> user_txn_1h (sliding hour) and its dead letters.

Thin entry point for spark-submit or a container command; the logic lives in ``featurekit.streaming.jobs``.
Equivalent to ``featurekit stream run transactions --env $FEATUREKIT_ENV``.
"""

from featurekit.streaming.entrypoint import main

if __name__ == "__main__":
    main("transactions")
