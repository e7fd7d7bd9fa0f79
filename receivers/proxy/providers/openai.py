"""OpenAI, and the parser of every OpenAI-shaped API (chat completions, responses, embeddings)."""
from __future__ import annotations

from typing import Any

from ..usage import Usage, add, count, money, tier
from .base import Provider


def _details(usage: dict[str, Any], key: str, field: str) -> int | None:
    d = usage.get(key)
    return count(d.get(field)) if isinstance(d, dict) else None


def read_usage(obj: dict[str, Any], out: Usage, with_cost: bool) -> None:
    """Fill ``out`` from an answer (or stream chunk) carrying OpenAI-style ``usage``."""
    if isinstance(obj.get("model"), str) and obj["model"]:
        out.model = obj["model"]
    out.service_tier = tier(obj.get("service_tier")) or out.service_tier
    u = obj.get("usage")
    if not isinstance(u, dict):
        return
    if "prompt_tokens" in u:  # chat completions, embeddings
        out.input_tokens = count(u.get("prompt_tokens"))
        out.output_tokens = count(u.get("completion_tokens")) if "completion_tokens" in u else 0
        out.cache_read_tokens = (_details(u, "prompt_tokens_details", "cached_tokens")
                                 or count(u.get("prompt_cache_hit_tokens")))  # DeepSeek
        out.reasoning_tokens = _details(u, "completion_tokens_details", "reasoning_tokens")
    else:  # responses API
        out.input_tokens = count(u.get("input_tokens"))
        out.output_tokens = count(u.get("output_tokens"))
        out.cache_read_tokens = _details(u, "input_tokens_details", "cached_tokens")
        out.reasoning_tokens = _details(u, "output_tokens_details", "reasoning_tokens")
    out.total_tokens = count(u.get("total_tokens")) or add(out.input_tokens, out.output_tokens)
    if with_cost:
        out.reported_cost = money(u.get("cost")) if u.get("cost") is not None else out.reported_cost


class ChatStream:
    """Rebuilds a chat completion from its chunks; the last usage block wins."""

    def __init__(self, with_cost: bool) -> None:
        self.with_cost = with_cost
        self.usage = Usage()
        self.text: list[str] = []
        self.tools: dict[int, dict[str, Any]] = {}
        self.finish_reason: str | None = None
        self.id: str | None = None

    def feed(self, event: dict[str, Any]) -> None:
        self.id = self.id or event.get("id")
        read_usage(event, self.usage, self.with_cost)
        if isinstance(event.get("response"), dict):  # responses API: response.completed
            read_usage(event["response"], self.usage, self.with_cost)
        choices = event.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return
        choice = choices[0]
        self.finish_reason = choice.get("finish_reason") or self.finish_reason
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            return
        if isinstance(delta.get("content"), str):
            self.text.append(delta["content"])
        for call in delta.get("tool_calls") or ():
            if not isinstance(call, dict):
                continue
            slot = self.tools.setdefault(call.get("index", 0), {"id": None, "type": "function",
                                                                "function": {"name": "", "arguments": ""}})
            slot["id"] = call.get("id") or slot["id"]
            fn = call.get("function")
            fn = fn if isinstance(fn, dict) else {}
            slot["function"]["name"] += fn.get("name") or ""
            slot["function"]["arguments"] += fn.get("arguments") or ""

    def finish(self) -> tuple[Usage, dict[str, Any]]:
        message: dict[str, Any] = {"role": "assistant", "content": "".join(self.text)}
        if self.tools:
            message["tool_calls"] = [self.tools[i] for i in sorted(self.tools)]
        u = self.usage
        body = {"id": self.id, "object": "chat.completion", "model": u.model,
                "choices": [{"index": 0, "message": message, "finish_reason": self.finish_reason}],
                "usage": None if not u.seen else {"prompt_tokens": u.input_tokens,
                                                  "completion_tokens": u.output_tokens,
                                                  "total_tokens": u.total_tokens}}
        return u, body


class OpenAIParser:
    def __init__(self, with_cost: bool = False) -> None:
        self.with_cost = with_cost

    def body(self, obj: Any) -> Usage:
        out = Usage()
        if isinstance(obj, dict):
            read_usage(obj, out, self.with_cost)
        return out

    def stream(self) -> ChatStream:
        return ChatStream(self.with_cost)


PARSER = OpenAIParser()

provider = Provider("openai", "https://api.openai.com", PARSER, inject_usage=True, strip_v1=True)
