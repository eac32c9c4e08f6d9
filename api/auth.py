"""Authentication of API calls: personal knox tokens (stored as a hash, with an expiry) or the browser session."""

from __future__ import annotations

from knox.auth import TokenAuthentication


class ApiTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <token>``. An expired or revoked token gives 401 (knox deletes expired ones)."""
