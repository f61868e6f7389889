"""Optional bearer-token authentication for the feature server.

The token comes from the environment (``FEATUREKIT_SERVING_TOKEN`` by default), never from a file in the repo.
When a token is configured every data endpoint requires ``Authorization: Bearer <token>``; ``/health`` stays open
so load balancers can probe without credentials (it returns no data). Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
import os

TOKEN_ENV = "FEATUREKIT_SERVING_TOKEN"
OPEN_PATHS = frozenset({"/health"})


class BearerAuth:
    """Checks ``Authorization`` header values against one expected token (or accepts all when none is set)."""

    def __init__(self, token: str | None) -> None:
        self._expected = f"Bearer {token}".encode() if token else None

    @classmethod
    def from_env(cls, variable: str = TOKEN_ENV) -> BearerAuth:
        return cls(os.environ.get(variable) or None)

    @property
    def enabled(self) -> bool:
        return self._expected is not None

    def allows(self, path: str, authorization: bytes | None) -> bool:
        if self._expected is None or path in OPEN_PATHS:
            return True
        return authorization is not None and hmac.compare_digest(authorization, self._expected)
