"""OpenRouter: OpenAI-shaped API that also reports the call's cost (``usage.cost``, USD)."""
from .base import Provider
from .openai import OpenAIParser

provider = Provider("openrouter", "https://openrouter.ai/api", OpenAIParser(with_cost=True))
