"""Mistral: OpenAI-shaped API; streams report usage without being asked."""
from .base import Provider
from .openai import PARSER

provider = Provider("mistral", "https://api.mistral.ai", PARSER)
