"""A minimal OpenAI-compatible upstream over real HTTP: chat completions and embeddings with fixed usage."""
from __future__ import annotations

import asyncio
import threading
import time

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .running import free_port

CHAT_USAGE = {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500,
              "prompt_tokens_details": {"cached_tokens": 200},
              "completion_tokens_details": {"reasoning_tokens": 100}}
RESPONSE_MODEL = "gpt-4o-mini-2024-07-18"


async def _chat(request: Request) -> JSONResponse:
    body = await request.json()
    return JSONResponse({
        "id": "chatcmpl-stub", "object": "chat.completion", "created": int(time.time()), "model": RESPONSE_MODEL,
        "service_tier": body.get("service_tier", "default"),
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "stub answer", "refusal": None}}],
        "usage": CHAT_USAGE,
    })


async def _embeddings(request: Request) -> JSONResponse:
    body = await request.json()
    return JSONResponse({"object": "list", "model": body.get("model", "text-embedding-3-small"),
                         "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2, 0.3]}],
                         "usage": {"prompt_tokens": 8, "total_tokens": 8}})


class OpenAIStub:
    """``with OpenAIStub() as stub:`` serves on ``stub.base_url`` (``http://127.0.0.1:PORT/v1``)."""

    def __init__(self) -> None:
        app = Starlette(routes=[Route("/v1/chat/completions", _chat, methods=["POST"]),
                                Route("/v1/embeddings", _embeddings, methods=["POST"])])
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="off"))
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()), daemon=True)
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> OpenAIStub:
        self.thread.start()
        deadline = time.time() + 30
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("the OpenAI stub did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)
