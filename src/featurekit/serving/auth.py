"""Optional bearer-token authentication for the feature server.

The tokens are the environment's ``serving.auth_token`` and ``serving.write_token`` settings, which reference
variables (``${FEATUREKIT_SERVING_TOKEN}``): never a value in a file in the repo.
When a token is configured every data endpoint requires ``Authorization: Bearer <token>``; ``/health`` stays open
so load balancers can probe without credentials (it returns no data). The write endpoints (``/push``,
``/write-to-online-store``) take the same token, or, when a separate write token is set, only that one (so read-only
clients cannot write). Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac

OPEN_PATHS = frozenset({"/health"})
WRITE_PATHS = frozenset({"/push", "/write-to-online-store"})


class BearerAuth:
    """Checks ``Authorization`` header values against one expected token (or accepts all when none is set)."""

    def __init__(self, token: str | None, *, write_token: str | None = None) -> None:
        self._expected = f"Bearer {token}".encode() if token else None
        self._write_expected = f"Bearer {write_token}".encode() if write_token else self._expected

    @property
    def enabled(self) -> bool:
        return self._expected is not None

    def allows(self, path: str, authorization: bytes | None) -> bool:
        expected = self._write_expected if path in WRITE_PATHS else self._expected
        if expected is None or path in OPEN_PATHS:
            return True
        return authorization is not None and hmac.compare_digest(authorization, expected)
