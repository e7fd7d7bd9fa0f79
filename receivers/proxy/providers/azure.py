"""Azure OpenAI: the key's resource URL plus ``/openai/v1``, ``api-key`` credential."""
from __future__ import annotations

from .base import Provider
from .openai import PARSER


def credential(headers: dict[str, str], params: list[tuple[str, str]], secret: str) -> None:
    headers["api-key"] = secret


provider = Provider("azure", "", PARSER, credential=credential, inject_usage=True, resource_suffix="/openai/v1")
