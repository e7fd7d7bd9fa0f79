"""Anthropic: ``x-api-key`` credential, Messages API usage (cache reads and writes)."""
from __future__ import annotations

from typing import Any

from ..usage import Usage, add, count, tier
from .base import Provider

DEFAULT_VERSION = "2023-06-01"


def credential(headers: dict[str, str], params: list[tuple[str, str]], secret: str) -> None:
    headers["x-api-key"] = secret
    headers.setdefault("anthropic-version", DEFAULT_VERSION)


class _Counts:
    """Usage blocks as they arrive (``message_delta`` repeats cumulative values)."""

    def __init__(self) -> None:
        self.net_input: int | None = None
        self.cache_read: int | None = None
        self.cache_write: int | None = None
        self.output: int | None = None
        self.service_tier: str | None = None
        self.model: str | None = None

    def read(self, u: Any) -> None:
        if not isinstance(u, dict):
            return
        self.net_input = _or(count(u.get("input_tokens")), self.net_input)
        self.cache_read = _or(count(u.get("cache_read_input_tokens")), self.cache_read)
        self.cache_write = _or(count(u.get("cache_creation_input_tokens")), self.cache_write)
        self.output = _or(count(u.get("output_tokens")), self.output)
        self.service_tier = tier(u.get("service_tier")) or self.service_tier

    def usage(self) -> Usage:
        gross = add(self.net_input, self.cache_read, self.cache_write)
        return Usage(model=self.model, input_tokens=gross, output_tokens=self.output,
                     total_tokens=add(gross, self.output), cache_read_tokens=self.cache_read,
                     cache_write_tokens=self.cache_write, service_tier=self.service_tier)


def _or(new: int | None, old: int | None) -> int | None:
    return old if new is None else new


class MessageStream:
    """Rebuilds a message from Messages API stream events."""

    def __init__(self) -> None:
        self.counts = _Counts()
        self.blocks: dict[int, dict[str, Any]] = {}
        self.id: str | None = None
        self.stop_reason: str | None = None

    def feed(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "message_start" and isinstance(event.get("message"), dict):
            msg = event["message"]
            self.id = msg.get("id")
            self.counts.model = msg.get("model") if isinstance(msg.get("model"), str) else None
            self.counts.read(msg.get("usage"))
        elif kind == "content_block_start" and isinstance(event.get("content_block"), dict):
            block = dict(event["content_block"])
            if block.get("type") == "tool_use":
                block["input"] = ""
            self.blocks[event.get("index", len(self.blocks))] = block
        elif kind == "content_block_delta" and isinstance(event.get("delta"), dict):
            block = self.blocks.setdefault(event.get("index", 0), {"type": "text", "text": ""})
            delta = event["delta"]
            if delta.get("type") == "text_delta":
                block["text"] = (block.get("text") or "") + (delta.get("text") or "")
            elif delta.get("type") == "input_json_delta":
                block["input"] = (block.get("input") or "") + (delta.get("partial_json") or "")
        elif kind == "message_delta":
            self.counts.read(event.get("usage"))
            if isinstance(event.get("delta"), dict):
                self.stop_reason = event["delta"].get("stop_reason") or self.stop_reason

    def finish(self) -> tuple[Usage, dict[str, Any]]:
        c = self.counts
        body = {"id": self.id, "type": "message", "role": "assistant", "model": c.model,
                "content": [self.blocks[i] for i in sorted(self.blocks)], "stop_reason": self.stop_reason,
                "usage": {"input_tokens": c.net_input, "cache_read_input_tokens": c.cache_read,
                          "cache_creation_input_tokens": c.cache_write, "output_tokens": c.output}}
        return c.usage(), body


class AnthropicParser:
    def body(self, obj: Any) -> Usage:
        c = _Counts()
        if isinstance(obj, dict):
            c.model = obj.get("model") if isinstance(obj.get("model"), str) else None
            c.read(obj.get("usage"))
        return c.usage()

    def stream(self) -> MessageStream:
        return MessageStream()


provider = Provider("anthropic", "https://api.anthropic.com", AnthropicParser(), credential=credential)
