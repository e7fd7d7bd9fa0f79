"""DeepSeek: OpenAI-compatible API (cache hits also as ``prompt_cache_hit_tokens``)."""
from .base import Provider
from .openai import PARSER

provider = Provider("deepseek", "https://api.deepseek.com", PARSER, inject_usage=True)
