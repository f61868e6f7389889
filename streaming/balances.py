"""Spark application ``balances``: balance-events -> user_balance_live (online + offline) and its dead letters.

Thin entry point for spark-submit or a container command; the logic lives in ``featurekit.streaming.jobs``.
Equivalent to ``featurekit stream run balances --env $FEATUREKIT_ENV``.
"""

from featurekit.streaming.entrypoint import main

if __name__ == "__main__":
    main("balances")
