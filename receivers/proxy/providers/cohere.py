"""Cohere: its OpenAI compatibility layer (``stream_options`` is not sent: it may be refused)."""
from .base import Provider
from .openai import PARSER

provider = Provider("cohere", "https://api.cohere.ai/compatibility", PARSER)
