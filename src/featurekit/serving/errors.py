"""Request errors of the fast read path: bad feature references and bad entity rows.

They subclass ``ValueError`` (a caller mistake, HTTP 400), unlike the store's ``OnlineStoreError`` (Redis or data
problems), and always name the offending reference or column. They are defined next to the shared read core in
:mod:`featurekit.online_store.errors` (Feast's own ``get_online_features`` over the store raises them too) and
re-exported here for serving code.
"""

from __future__ import annotations

from featurekit.online_store.errors import EntityRowsError, FeatureReferenceError, ServingRequestError

__all__ = ["EntityRowsError", "FeatureReferenceError", "PushQualityError", "ServingRequestError"]


class PushQualityError(ServingRequestError):
    """Pushed rows fail their view's expectations (HTTP 422): nothing of the request was written, online or
    offline; the message names the view, the expectation, how many rows and the first failing row."""
