"""Finding the Spanlens key of a request and the tenant behind it."""
from __future__ import annotations

from spanlens_pipeline.errors import PublicKeyWriteForbidden, Unauthorized
from spanlens_pipeline.model import Tenant

from .store import KeyBackend

KEY_HEADERS = ("authorization", "x-api-key", "x-goog-api-key")


def key_from_headers(headers: dict[str, str]) -> str | None:
    """The Spanlens key from ``Authorization: Bearer``, ``x-api-key`` or ``x-goog-api-key``."""
    for name in KEY_HEADERS:
        value = headers.get(name, "").strip()
        if not value:
            continue
        if name == "authorization":
            scheme, _, token = value.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                continue
            value = token.strip()
        return value
    return None


def authenticate(store: KeyBackend, headers: dict[str, str], write: bool) -> Tenant:
    """The tenant behind the request's key; 401 if none, 403 for a public key on a write path."""
    raw = key_from_headers(headers)
    tenant = store.authenticate(raw) if raw else None
    if tenant is None:
        raise Unauthorized("Missing or invalid API key" if raw is None else "Invalid API key")
    if write and tenant.is_public:
        raise PublicKeyWriteForbidden()
    return tenant
