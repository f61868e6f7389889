"""Request errors of the fast read path: bad feature references and bad entity rows.

They subclass ``ValueError`` (a caller mistake, HTTP 400), unlike the store's ``OnlineStoreError`` (Redis or data
problems), and always name the offending reference or column.
"""

from __future__ import annotations


class ServingRequestError(ValueError):
    """The request cannot be answered as asked; the message says what to change."""


class FeatureReferenceError(ServingRequestError):
    """A feature reference, feature view or feature service does not exist in the registry."""


class EntityRowsError(ServingRequestError):
    """Entity rows lack a join key or request-data column, have uneven lengths, or a key of the wrong type."""
