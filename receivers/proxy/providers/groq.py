"""Groq: OpenAI-compatible API under ``/openai``."""
from .base import Provider
from .openai import PARSER

provider = Provider("groq", "https://api.groq.com/openai", PARSER, inject_usage=True)
