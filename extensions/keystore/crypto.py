"""Provider-key encryption: AES-256-GCM under ``ENCRYPTION_KEY``.

The key is 32 bytes, given base64-encoded in the ``ENCRYPTION_KEY`` environment
variable (``openssl rand -base64 32``). A stored secret is standard base64 of
``nonce (12 bytes) ‖ tag (16 bytes) ‖ ciphertext`` with no associated data — the layout
of the original Spanlens service, so its exported rows decrypt here unchanged. Python's
``AESGCM`` works with ``ciphertext ‖ tag``, so both directions reorder.
"""
from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from spanlens_pipeline.errors import DecryptError

ENV_VAR = "ENCRYPTION_KEY"
_NONCE, _TAG = 12, 16


def parse_key(value: str) -> bytes:
    """The 32-byte key from its base64 form; ``ValueError`` if it is not exactly that."""
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{ENV_VAR} is not valid base64") from None
    if len(raw) != 32:
        raise ValueError(f"{ENV_VAR} must decode to 32 bytes, got {len(raw)}")
    return raw


def key_from_env() -> bytes | None:
    """The key from the environment: None when unset, ``ValueError`` when malformed."""
    value = os.environ.get(ENV_VAR, "")
    return parse_key(value) if value.strip() else None


def encrypt(key: bytes, plaintext: str) -> str:
    nonce = os.urandom(_NONCE)
    sealed = AESGCM(key).encrypt(nonce, plaintext.strip().encode("utf-8"), None)
    return base64.b64encode(nonce + sealed[-_TAG:] + sealed[:-_TAG]).decode("ascii")


def decrypt(key: bytes | None, token: str) -> str:
    """The plaintext; ``DecryptError`` for a missing or wrong key, tampering or bad encoding.

    An empty result is an error too: an empty credential is never returned.
    """
    if key is None:
        raise DecryptError(f"{ENV_VAR} is not set")
    try:
        raw = base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError):
        raise DecryptError("stored secret is not valid base64") from None
    if len(raw) < _NONCE + _TAG:
        raise DecryptError("stored secret is too short")
    nonce, tag, body = raw[:_NONCE], raw[_NONCE:_NONCE + _TAG], raw[_NONCE + _TAG:]
    try:
        text = AESGCM(key).decrypt(nonce, body + tag, None).decode("utf-8")
    except (InvalidTag, UnicodeDecodeError):
        raise DecryptError("stored secret does not decrypt under the current key") from None
    if not text:
        raise DecryptError("stored secret is empty")
    return text
