"""What a provider module declares: upstream base, credential placement, usage parser."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..usage import Parser

# Places the provider credential on the outgoing request: (headers, query params, secret).
Credential = Callable[[dict[str, str], list[tuple[str, str]], str], None]


def bearer(headers: dict[str, str], params: list[tuple[str, str]], secret: str) -> None:
    headers["authorization"] = f"Bearer {secret}"


@dataclass(frozen=True)
class Provider:
    name: str
    default_base: str
    parser: Parser
    credential: Credential = bearer
    # Add ``stream_options.include_usage`` to streamed requests (merged with the client's options).
    inject_usage: bool = False
    # Drop a trailing ``/v1`` from a configured base (the client path carries it).
    strip_v1: bool = False
    # Azure: the base is the key's resource URL (or the configured override) plus this suffix.
    resource_suffix: str | None = None

    @property
    def env_var(self) -> str:
        return f"{self.name.upper()}_API_BASE"

    def base(self, configured: str | None, resource_url: str | None = None) -> str:
        """The upstream base: configured override, else the key's resource URL, else the default."""
        if self.resource_suffix is not None:
            return (configured or resource_url or "").rstrip("/") + self.resource_suffix
        base = (configured or self.default_base).rstrip("/")
        return base[:-3] if self.strip_v1 and base.endswith("/v1") else base

    def is_stream(self, path: str, body: Any) -> bool:
        return isinstance(body, dict) and body.get("stream") is True

    def request_model(self, path: str, body: Any) -> str | None:
        model = body.get("model") if isinstance(body, dict) else None
        return model if isinstance(model, str) else None


_OPERATIONS = (  # (path ending, operation), first match wins
    ("chat/completions", "chat"),
    ("/messages", "chat"),
    ("/responses", "chat"),
    ("/completions", "text_completion"),
    ("/embeddings", "embeddings"),
    (":embedContent", "embeddings"),
    (":batchEmbedContents", "embeddings"),
    (":generateContent", "generate_content"),
    (":streamGenerateContent", "generate_content"),
)


def operation_of(path: str) -> str | None:
    """The gen_ai operation of an upstream path, or None (model lists, files, …)."""
    for ending, op in _OPERATIONS:
        if path.endswith(ending):
            return op
    return None
