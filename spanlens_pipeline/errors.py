"""The error catalog: every exception the project raises on purpose, in one hierarchy.

``PipelineError`` is the base of all of them. Its branches:

- ``SpanlensError`` and its subclasses are answered over HTTP. Each carries a stable
  ``code`` (part of the API), an HTTP ``status`` and a default message. Raise them
  anywhere; ``spanlens_pipeline.http`` turns them into the envelope
  ``{"error": {"code", "message", "details", "requestId"}}`` in one place.
- The internal errors never reach a client as they are: a component catches them and
  answers with a ``SpanlensError`` (or the CLI prints them and exits 1).

    PipelineError
    ├── ConfigError          a configuration problem found at load time (names the YAML path)
    ├── StoreError           a ClickHouse call failed; ``transient`` says whether to retry
    ├── KeyStoreError        a key or project operation that cannot be done
    ├── DecryptError         a provider key that cannot be encrypted or decrypted
    ├── PriceError           a price table that cannot be read or used
    ├── CommandError         a CLI command that cannot do what was asked
    └── SpanlensError        answered over HTTP:
        ├── BadRequest (400 BAD_REQUEST)
        │   ├── InvalidJsonBody (400 INVALID_JSON_BODY)
        │   ├── ValidationFailed (400 VALIDATION_FAILED)
        │   ├── MalformedPayload (400 MALFORMED_PAYLOAD)
        │   └── NoProviderKey (400 NO_PROVIDER_KEY)
        ├── Unauthorized (401 UNAUTHORIZED)
        ├── Forbidden (403 FORBIDDEN)
        │   └── PublicKeyWriteForbidden (403 PUBLIC_KEY_WRITE_FORBIDDEN)
        ├── NotFound (404 NOT_FOUND)
        ├── MethodNotAllowed (405 METHOD_NOT_ALLOWED)
        ├── RequestTimeout (408 REQUEST_TIMEOUT)
        ├── PayloadTooLarge (413 PAYLOAD_TOO_LARGE)
        ├── UnsupportedMediaType (415 UNSUPPORTED_MEDIA_TYPE)
        ├── HeadersTooLarge (431 HEADERS_TOO_LARGE)
        ├── ClientGone (499 CLIENT_GONE: the client hung up; nothing is sent)
        ├── RateLimited (429 RATE_LIMIT)
        ├── InternalError (500 INTERNAL_ERROR)
        ├── UpstreamFailed (502 UPSTREAM_FAILED)
        ├── Unavailable (503 SERVICE_UNAVAILABLE)
        │   ├── StoreUnavailable (503 STORE_UNAVAILABLE)
        │   │   └── StoreFull (503 STORE_FULL: the store's disk is full)
        │   ├── LogFull (503 LOG_FULL: the write-ahead log reached its bound)
        │   └── DecryptFailed (503 DECRYPT_FAILED)
        └── UpstreamTimeout (504 UPSTREAM_TIMEOUT)

Whether a ``StoreError`` is transient is decided from the driver's exception class and
the server's numeric error code, never from message text (which can echo user data).
"""
from __future__ import annotations

from typing import Any


class PipelineError(Exception):
    """Base of every exception the project raises on purpose."""


class SpanlensError(PipelineError):
    """Base of every error answered over HTTP."""

    status: int = 500
    code: str = "INTERNAL_ERROR"
    default_message: str = "Internal error"

    def __init__(
        self,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.details = details
        self.headers = headers or {}
        super().__init__(self.message)

    @property
    def retryable(self) -> bool:
        """Whether an OTLP client may retry (429, 502, 503, 504)."""
        return self.status in (429, 502, 503, 504)


class BadRequest(SpanlensError):
    status, code, default_message = 400, "BAD_REQUEST", "Bad request"


class InvalidJsonBody(BadRequest):
    code, default_message = "INVALID_JSON_BODY", "Request body is not valid JSON"


class ValidationFailed(BadRequest):
    code, default_message = "VALIDATION_FAILED", "Request validation failed"


class MalformedPayload(BadRequest):
    code, default_message = "MALFORMED_PAYLOAD", "Request body could not be decoded"


class NoProviderKey(BadRequest):
    code, default_message = "NO_PROVIDER_KEY", "No active provider key is registered for this provider"


class Unauthorized(SpanlensError):
    status, code, default_message = 401, "UNAUTHORIZED", "Missing or invalid API key"


class Forbidden(SpanlensError):
    status, code, default_message = 403, "FORBIDDEN", "Forbidden"


class PublicKeyWriteForbidden(Forbidden):
    code = "PUBLIC_KEY_WRITE_FORBIDDEN"
    default_message = "Public scope keys cannot use proxy, ingest, or OTLP endpoints"

    def __init__(self, message: str | None = None, **kw: Any) -> None:
        kw.setdefault("details", {"scope": "public"})
        super().__init__(message, **kw)


class NotFound(SpanlensError):
    status, code, default_message = 404, "NOT_FOUND", "Not found"


class MethodNotAllowed(SpanlensError):
    status, code, default_message = 405, "METHOD_NOT_ALLOWED", "Method not allowed"


class RequestTimeout(SpanlensError):
    status, code, default_message = 408, "REQUEST_TIMEOUT", "The request did not arrive in time"


class PayloadTooLarge(SpanlensError):
    status, code, default_message = 413, "PAYLOAD_TOO_LARGE", "Request body is too large"


class UnsupportedMediaType(SpanlensError):
    status, code, default_message = 415, "UNSUPPORTED_MEDIA_TYPE", "Unsupported content type"


class HeadersTooLarge(SpanlensError):
    status, code, default_message = 431, "HEADERS_TOO_LARGE", "Request headers are too large"


class ClientGone(SpanlensError):
    """The client disconnected before its request was read; there is nobody to answer."""

    status, code, default_message = 499, "CLIENT_GONE", "The client closed the connection"


class RateLimited(SpanlensError):
    status, code, default_message = 429, "RATE_LIMIT", "Rate limit exceeded"


class InternalError(SpanlensError):
    status, code, default_message = 500, "INTERNAL_ERROR", "Internal error"


class UpstreamFailed(SpanlensError):
    status, code, default_message = 502, "UPSTREAM_FAILED", "The upstream provider could not be reached"


class Unavailable(SpanlensError):
    status, code, default_message = 503, "SERVICE_UNAVAILABLE", "Service temporarily unavailable"


class StoreUnavailable(Unavailable):
    code, default_message = "STORE_UNAVAILABLE", "The store could not accept the data; retry later"


class StoreFull(StoreUnavailable):
    code, default_message = "STORE_FULL", "The store's disk is full; retry later"


class LogFull(Unavailable):
    code, default_message = "LOG_FULL", "The write-ahead log is full while the store catches up; retry later"


class DecryptFailed(Unavailable):
    code, default_message = "DECRYPT_FAILED", "The stored provider key could not be decrypted"


class UpstreamTimeout(SpanlensError):
    status, code, default_message = 504, "UPSTREAM_TIMEOUT", "The upstream provider did not answer in time"


class ConfigError(PipelineError):
    """A configuration problem found at load time; the message names the YAML path."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class StoreError(PipelineError):
    """A failed ClickHouse call. ``transient`` is True when retrying later may succeed;
    ``code`` is the server's numeric error code when it sent one; ``disk_full`` says the
    store could not write for lack of space (transient: it clears once space is freed)."""

    def __init__(self, message: str, transient: bool, code: int | None = None, disk_full: bool = False) -> None:
        super().__init__(message)
        self.transient = transient or disk_full
        self.code = code
        self.disk_full = disk_full


class KeyStoreError(PipelineError):
    """A key or project operation that cannot be done (unknown project, revoked key…)."""


class DecryptError(PipelineError):
    """A provider key that cannot be encrypted or decrypted (missing or wrong ENCRYPTION_KEY)."""


class PriceError(PipelineError, ValueError):
    """A price table that cannot be read, or a price that cannot be used."""


class CommandError(PipelineError):
    """A CLI command that cannot do what was asked: ``main`` prints ``error: <message>`` and exits 1."""
