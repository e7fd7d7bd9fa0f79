"""xAI: OpenAI-compatible API."""
from .base import Provider
from .openai import PARSER

provider = Provider("xai", "https://api.x.ai", PARSER, inject_usage=True)
