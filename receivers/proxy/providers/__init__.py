"""The upstream providers, one module each, by route name (``/proxy/<name>/…``)."""
from __future__ import annotations

from . import anthropic, azure, cohere, deepseek, gemini, groq, mistral, openai, openrouter, xai
from .base import Provider, operation_of

PROVIDERS: dict[str, Provider] = {m.provider.name: m.provider for m in (
    openai, anthropic, gemini, azure, mistral, openrouter, groq, deepseek, xai, cohere)}

__all__ = ["PROVIDERS", "Provider", "operation_of"]
