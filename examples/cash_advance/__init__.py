"""The cash-advance example around ``feature_repo/``: the paid-balance-check helper, the scoring service, the
synthetic balance and transaction events, and the demo's streaming stage."""
