"""Gemini: ``?key=`` credential, model and streaming decided by the path, ``usageMetadata``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..usage import Usage, count, tier
from .base import Provider


def credential(headers: dict[str, str], params: list[tuple[str, str]], secret: str) -> None:
    params[:] = [(k, v) for k, v in params if k != "key"]
    params.append(("key", secret))


def read_usage(obj: dict[str, Any], out: Usage) -> None:
    if isinstance(obj.get("modelVersion"), str):
        out.model = obj["modelVersion"]
    m = obj.get("usageMetadata")
    if not isinstance(m, dict):
        return
    candidates, thoughts = count(m.get("candidatesTokenCount")), count(m.get("thoughtsTokenCount"))
    out.input_tokens = count(m.get("promptTokenCount"))  # includes cached content
    out.output_tokens = None if candidates is None and thoughts is None else (candidates or 0) + (thoughts or 0)
    out.reasoning_tokens = thoughts
    out.cache_read_tokens = count(m.get("cachedContentTokenCount"))
    out.total_tokens = count(m.get("totalTokenCount"))
    out.service_tier = tier(m.get("serviceTier")) or out.service_tier


def _text(obj: dict[str, Any]) -> str:
    cands = obj.get("candidates")
    if not isinstance(cands, list) or not cands or not isinstance(cands[0], dict):
        return ""
    content = cands[0].get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    return "".join(p["text"] for p in parts or () if isinstance(p, dict) and isinstance(p.get("text"), str))


class GenerateStream:
    def __init__(self) -> None:
        self.usage = Usage()
        self.text: list[str] = []

    def feed(self, event: dict[str, Any]) -> None:
        read_usage(event, self.usage)
        self.text.append(_text(event))

    def finish(self) -> tuple[Usage, dict[str, Any]]:
        u = self.usage
        body = {"candidates": [{"content": {"role": "model", "parts": [{"text": "".join(self.text)}]}}],
                "modelVersion": u.model,
                "usageMetadata": None if not u.seen else {
                    "promptTokenCount": u.input_tokens, "candidatesTokenCount": u.output_tokens,
                    "cachedContentTokenCount": u.cache_read_tokens, "thoughtsTokenCount": u.reasoning_tokens,
                    "totalTokenCount": u.total_tokens}}
        return u, body


class GeminiParser:
    def body(self, obj: Any) -> Usage:
        out = Usage()
        if isinstance(obj, dict):
            read_usage(obj, out)
        return out

    def stream(self) -> GenerateStream:
        return GenerateStream()


@dataclass(frozen=True)
class GeminiProvider(Provider):
    def is_stream(self, path: str, body: Any) -> bool:
        return ":streamGenerateContent" in path

    def request_model(self, path: str, body: Any) -> str | None:
        _, found, rest = path.partition("models/")
        return rest.split(":", 1)[0].split("/", 1)[0] or None if found else None


provider = GeminiProvider("gemini", "https://generativelanguage.googleapis.com", GeminiParser(),
                          credential=credential)
