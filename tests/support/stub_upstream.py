"""A local stand-in for the LLM providers, over real HTTP.

It answers in each provider's real formats — OpenAI-shaped chat completions (JSON and
SSE, tool calls), embeddings, model lists, Anthropic messages (JSON and SSE events),
Gemini generateContent (JSON, SSE with ``alt=sse``, streamed JSON array) — with the
fixed usage numbers below, and records every request it receives.

The first path segment names the provider (bases are configured as ``<url>/<provider>``).
Request headers steer it: ``x-stub-status`` (answer that error status),
``x-stub-header-delay-ms`` (wait before answering), ``x-stub-gap-ms`` (pause between
stream chunks), ``x-stub-chunks`` (number of text chunks). ``events`` is an ordered log
shared with tests: the stub appends ``("stub-send", i)`` right before sending chunk i.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import uvicorn

from .running import free_port

OPENAI_USAGE = {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500,
                "prompt_tokens_details": {"cached_tokens": 1000},
                "completion_tokens_details": {"reasoning_tokens": 120}}
EMBEDDING_USAGE = {"prompt_tokens": 8, "total_tokens": 8}
OPENROUTER_COST = 0.00123
ANTHROPIC_USAGE = {"input_tokens": 50, "cache_read_input_tokens": 2000, "cache_creation_input_tokens": 300,
                   "output_tokens": 80, "service_tier": "standard"}
GEMINI_USAGE = {"promptTokenCount": 900, "candidatesTokenCount": 200, "thoughtsTokenCount": 50,
                "cachedContentTokenCount": 600, "totalTokenCount": 1150}
# OpenAI-shaped providers whose streams carry usage without being asked.
USAGE_ALWAYS = ("mistral", "openrouter")
LEAKED_KEY = "sk-proj-abcdefghijklmnop1234567890"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class StubUpstream:
    port: int = field(default_factory=free_port)
    requests: list[Recorded] = field(default_factory=list)
    events: list[tuple] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def mark(self, *event: Any) -> None:
        self.events.append(event)  # list.append is atomic: one order across threads

    def for_provider(self, provider: str) -> list[Recorded]:
        return [r for r in self.requests if r.path.startswith(f"/{provider}/")]

    # -- serving ------------------------------------------------------------------------
    def start(self) -> StubUpstream:
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                access_log=False, lifespan="off", interface="asgi3")
        self._server = _Server(config)
        self._thread = threading.Thread(target=lambda: asyncio.run(self._server.serve()), daemon=True)
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("stub upstream did not start")
            threading.Event().wait(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)

    async def app(self, scope: dict, receive: Any, send: Any) -> None:
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        query = dict(parse_qsl(scope["query_string"].decode()))
        rec = Recorded(scope["method"], scope["path"], query, headers, body)
        self.requests.append(rec)
        await asyncio.sleep(int(headers.get("x-stub-header-delay-ms", 0)) / 1000)
        provider, _, rest = scope["path"].lstrip("/").partition("/")
        status = int(headers.get("x-stub-status", 200))
        if status >= 400:
            error = {"error": {"message": f"Incorrect API key provided: {LEAKED_KEY}", "type": "stub_error",
                               "code": status}}
            await _answer(send, status, "application/json", [json.dumps(error).encode()], 0, None)
            return
        gap = int(headers.get("x-stub-gap-ms", 0)) / 1000
        n = int(headers.get("x-stub-chunks", 3))
        ctype, chunks = _route(provider, "/" + rest, query, rec, n)
        await _answer(send, 200, ctype, chunks, gap, self)


async def _answer(send: Any, status: int, ctype: str, chunks: list[bytes], gap: float, stub: Any) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", ctype.encode()), (b"x-request-id", b"req_stub_1")]})
    for i, chunk in enumerate(chunks):
        if i and gap:
            await asyncio.sleep(gap)
        if stub is not None:
            stub.mark("stub-send", i)
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def _sse(objs: list[Any], events: list[str] | None = None, done: bool = False) -> list[bytes]:
    out = []
    for i, obj in enumerate(objs):
        head = f"event: {events[i]}\n" if events else ""
        out.append(f"{head}data: {json.dumps(obj)}\n\n".encode())
    if done:
        out.append(b"data: [DONE]\n\n")
    return out


def _words(n: int) -> list[str]:
    return [f"w{i} " for i in range(n)]


def _route(provider: str, path: str, query: dict[str, str], rec: Recorded, n: int) -> tuple[str, list[bytes]]:
    try:
        req = json.loads(rec.body) if rec.body else {}
    except ValueError:  # a non-JSON body is answered like an empty one
        req = {}
    model = req.get("model", "stub-model") if isinstance(req, dict) else "stub-model"
    if path.endswith("/chat/completions"):
        return _chat(provider, req, model, n)
    if path.endswith("/embeddings"):
        return "application/json", [json.dumps({"object": "list", "model": model, "usage": EMBEDDING_USAGE,
                                                "data": [{"object": "embedding", "index": 0,
                                                          "embedding": [0.1, 0.2, 0.3]}]}).encode()]
    if path.endswith("/models"):
        return "application/json", [json.dumps({"object": "list", "data": [{"id": "stub-model",
                                                                            "object": "model"}]}).encode()]
    if path.endswith("/messages"):
        return _messages(req, model, n)
    if ":generateContent" in path or ":streamGenerateContent" in path:
        return _gemini(path, query, n)
    return "application/json", [b'{"error": "no such route"}']


def _chat(provider: str, req: dict, model: str, n: int) -> tuple[str, list[bytes]]:
    usage = dict(OPENAI_USAGE, **({"cost": OPENROUTER_COST} if provider == "openrouter" else {}))
    tools = bool(req.get("tools"))
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
    if not req.get("stream"):
        message = {"role": "assistant", "content": None if tools else "".join(_words(n))}
        if tools:
            message["tool_calls"] = [call]
        return "application/json", [json.dumps({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": f"{model}-2024",
            "service_tier": "default",
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if tools else "stop"}],
            "usage": usage}).encode()]
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": f"{model}-2024",
            "service_tier": "default"}
    chunks = [dict(base, choices=[{"index": 0, "delta": {"role": "assistant", "content": ""}}])]
    if tools:
        args = call["function"]["arguments"]
        chunks.append(dict(base, choices=[{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}}]))
        chunks += [dict(base, choices=[{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "function": {"arguments": part}}]}}]) for part in (args[:8], args[8:])]
    else:
        chunks += [dict(base, choices=[{"index": 0, "delta": {"content": w}}]) for w in _words(n)]
    chunks.append(dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": "tool_calls" if tools else "stop"}]))
    options = req.get("stream_options") or {}
    if options.get("include_usage") or provider in USAGE_ALWAYS:
        chunks.append(dict(base, choices=[], usage=usage))
    return "text/event-stream", _sse(chunks, done=True)


def _messages(req: dict, model: str, n: int) -> tuple[str, list[bytes]]:
    if not req.get("stream"):
        return "application/json", [json.dumps({
            "id": "msg_1", "type": "message", "role": "assistant", "model": f"{model}-20250101",
            "content": [{"type": "text", "text": "".join(_words(n))}], "stop_reason": "end_turn",
            "stop_sequence": None, "usage": ANTHROPIC_USAGE}).encode()]
    start_usage = dict(ANTHROPIC_USAGE, output_tokens=1)
    events = [("message_start", {"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": f"{model}-20250101", "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": start_usage}}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}})]
    events += [("content_block_delta", {"type": "content_block_delta", "index": 0,
                                        "delta": {"type": "text_delta", "text": w}}) for w in _words(n)]
    events += [("content_block_stop", {"type": "content_block_stop", "index": 0}),
               ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                  "usage": {"output_tokens": ANTHROPIC_USAGE["output_tokens"]}}),
               ("message_stop", {"type": "message_stop"})]
    return "text/event-stream", _sse([e for _, e in events], [k for k, _ in events])


def _gemini(path: str, query: dict[str, str], n: int) -> tuple[str, list[bytes]]:
    model = path.split("models/", 1)[-1].split(":", 1)[0]

    def chunk(text: str, usage: dict | None) -> dict:
        out = {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}],
               "modelVersion": f"{model}-001"}
        if usage:
            out["usageMetadata"] = usage
        return out

    words = _words(n)
    if ":streamGenerateContent" not in path:
        return "application/json", [json.dumps(chunk("".join(words), GEMINI_USAGE)).encode()]
    objs = [chunk(w, GEMINI_USAGE if i == len(words) - 1 else None) for i, w in enumerate(words)]
    if query.get("alt") == "sse":
        return "text/event-stream", _sse(objs)
    pieces = [("[" if i == 0 else ",\r\n") + json.dumps(o) for i, o in enumerate(objs)]
    return "application/json", [p.encode() for p in pieces] + [b"]"]


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[override]
        yield
