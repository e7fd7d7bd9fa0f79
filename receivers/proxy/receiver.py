"""The proxy receiver: ``/proxy/<provider>/…`` to the provider, the call logged through the pipeline.

Order per request: provider from the path → Spanlens key (401/403) → body read and
checked → rate limit → provider key and decryption (400/503) → upstream (502/504). The
answer streams back as it arrives; once it has ended, one span and one request row go
to the pipeline through a short buffer (``logbuffer``) that ``shutdown`` empties.

The ``/proxy`` prefix is served as raw ASGI ahead of the framework (``add_asgi_prefix``),
upstream calls go over a lean pooled keep-alive HTTP/1.1 client (``upstream``), the decrypted provider key is
kept in memory until the key store changes, and timeouts are loop timers.
"""
from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response as HttpResponse

from spanlens_pipeline import body as body_mod
from spanlens_pipeline.component import Host, Receiver, Settings, extension_of
from spanlens_pipeline.errors import (
    DecryptFailed,
    InvalidJsonBody,
    MethodNotAllowed,
    NoProviderKey,
    NotFound,
    PayloadTooLarge,
    RequestTimeout,
    UpstreamFailed,
    UpstreamTimeout,
)
from spanlens_pipeline.extensions.keystore import KeystoreExtension, ProviderKey, crypto
from spanlens_pipeline.extensions.wal import WalExtension, log_receiver, unlog_receiver
from spanlens_pipeline.http import REQUEST_ID, json_response
from spanlens_pipeline.limits import DEFAULT, depth_of
from spanlens_pipeline.model import RequestContext
from spanlens_pipeline.pipeline import refusing

from . import record
from .config import Config
from .logbuffer import LogBuffer
from .providers import PROVIDERS, Provider
from .pump import pump, response_headers
from .upstream import Response, Upstream, UpstreamError

METHODS = frozenset(("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"))
# Request headers never sent upstream (besides every x-spanlens-* header).
_STRIP = frozenset(("authorization", "x-api-key", "x-goog-api-key", "host", "connection", "keep-alive",
                    "transfer-encoding", "content-length", "expect", "te", "upgrade", "proxy-authorization",
                    "proxy-connection", "accept-encoding"))


class _ClientGone(Exception):
    """The client left before its request body was read."""


class ProxyReceiver(Receiver):
    config: Config

    def __init__(self, settings: Settings, config: Config) -> None:
        super().__init__(settings, config)
        self.upstream: Upstream | None = None
        self.logs = LogBuffer(lambda batch, ctx: self.next.consume(batch, ctx), config.log_flush_interval / 1000,
                              self.logger)
        self._secrets: dict[str, str] = {}  # provider key id → plaintext, for one key-store generation
        self._secrets_generation = -1
        self.wal: WalExtension | None = None

    async def start(self, host: Host) -> None:
        cfg = self.config
        ext = extension_of(host, cfg.keystore, KeystoreExtension)
        assert ext.provider_keys is not None, "keystore extension not started"
        self.keystore = ext
        self.keys = ext.provider_keys
        self.encryption_key = crypto.key_from_env()
        self.limiter: Any = host.extension(cfg.ratelimit) if cfg.ratelimit else None
        self.timeout_s = cfg.upstream_timeout_ms() / 1000
        self.deadline_s = cfg.stream_deadline_ms() / 1000
        self.bases = {name: cfg.api_base(name) for name in PROVIDERS}
        self.upstream = Upstream()
        server = host.http(cfg.endpoint)
        server.add_asgi_prefix(cfg.path_prefix, self.handle)
        server.add_route("/api/v1/me/key-info", self.key_info, ["GET"])
        self.wal = log_receiver(host, self, cfg.wal)

    async def shutdown(self) -> None:
        await self.logs.close()
        await unlog_receiver(self.wal)
        if self.upstream:
            await self.upstream.close()

    async def key_info(self, request: Request) -> HttpResponse:
        tenant = self.keystore.authenticate(dict(request.headers), write=False)
        return json_response({"data": {"projectId": tenant.project_id, "projectName": tenant.project_name,
                                       "providers": self.keys.providers(tenant.api_key_id),
                                       "scope": tenant.scope}})

    async def handle(self, scope: dict, receive: Callable, send: Callable) -> None:
        """One proxied call, as raw ASGI (errors raised here become the envelope in ``http``)."""
        t0, start_ns = time.perf_counter(), time.time_ns()
        name, _, rest = scope["path"][len(self.config.path_prefix) + 1:].partition("/")
        provider = PROVIDERS.get(name)
        if provider is None:
            raise NotFound(f"Unknown provider {name!r}", details={"provider": name, "providers": list(PROVIDERS)})
        method = scope["method"]
        if method not in METHODS:
            raise MethodNotAllowed()
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        with refusing(self.next):  # a refused key counts in /metrics like a refused admit
            tenant = self.keystore.authenticate(headers, write=True)
        client = scope.get("client")
        ctx = RequestContext(headers=headers, client=client[0] if client else None, path=scope["path"],
                             request_id=scope[REQUEST_ID], write=True, tenant=tenant)
        await self.next.admit(ctx)
        try:
            body = b"" if method in ("GET", "HEAD") else await self._read_body(receive, headers)
        except _ClientGone:
            return
        parsed = _parse_json(body, headers.get("content-type", ""))
        extra = await self._rate_limit(tenant, headers.get("x-spanlens-user") or None)
        pkey, generation = self.keys.cached_active(tenant.api_key_id, name)
        if pkey is None:
            raise NoProviderKey(f"No active {name} key is registered for this Spanlens key",
                                details={"provider": name})
        secret = self._secret(pkey, generation)
        path = "/" + rest
        streamed = provider.is_stream(path, parsed)
        content = _with_usage_option(provider, parsed, body) if streamed else body
        ex = record.Exchange(provider, tenant, ctx, method, path, body, parsed, streamed, pkey.id, start_ns, t0)
        ex.trace_id, ex.span_id, ex.parent_span_id = record.span_ids(headers)
        ex.t_send = time.perf_counter()
        resp = await self._send(provider, method, scope, headers, path, content, secret, pkey.resource_url)
        ex.t_headers = time.perf_counter()
        ex.status = resp.status
        ex.content_type = resp.headers.get("content-type", "")
        ex.content_encoding = resp.headers.get("content-encoding", "").lower()
        out = response_headers(resp, extra)
        out.append((b"x-spanlens-trace-id", ex.trace_id.encode()))
        out.append((b"x-spanlens-span-id", ex.span_id.encode()))
        loop = asyncio.get_running_loop()
        raw, truncated = await pump(resp, out, loop.time() + self.deadline_s - (ex.t_headers - t0), receive, send)
        loop.call_soon(self._log, ex, raw, truncated, time.perf_counter(), time.time_ns())

    def _secret(self, pkey: ProviderKey, generation: int) -> str:
        """The decrypted provider key, from memory while the key store is unchanged."""
        if generation != self._secrets_generation:
            self._secrets.clear()
            self._secrets_generation = generation
        secret = self._secrets.get(pkey.id)
        if secret is None:
            try:
                secret = crypto.decrypt(self.encryption_key, pkey.encrypted_key)
            except crypto.DecryptError as exc:
                self.logger.error("provider key %s (%s) cannot be decrypted: %s; check ENCRYPTION_KEY",
                                  pkey.id, pkey.provider, exc)
                raise DecryptFailed("The stored provider key could not be decrypted; check ENCRYPTION_KEY",
                                    details={"provider": pkey.provider}) from None
            self._secrets[pkey.id] = secret
        return secret

    async def _read_body(self, receive: Callable, headers: dict[str, str]) -> bytes:
        """The request body as sent; 413 past the limit."""
        limit = self.config.max_request_body_size
        length = headers.get("content-length")
        if length and length.isdigit() and int(length) > limit:
            raise PayloadTooLarge(f"Request body is larger than the limit of {limit} bytes")
        chunks, size = [], 0
        deadline = time.monotonic() + body_mod.BODY_TIMEOUT_S
        while True:
            wait = min(body_mod.BODY_CHUNK_TIMEOUT_S, deadline - time.monotonic())
            try:
                if wait <= 0:
                    raise TimeoutError
                message = await asyncio.wait_for(receive(), wait)
            except TimeoutError:
                raise RequestTimeout("The request body did not arrive in time") from None
            if message["type"] == "http.disconnect":
                raise _ClientGone()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"Request body is larger than the limit of {limit} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _rate_limit(self, tenant, end_user: str | None) -> dict[str, str]:
        if self.limiter is None:
            return {}
        result = self.limiter.check(tenant, end_user)
        if inspect.isawaitable(result):
            result = await result
        return dict(result or {})

    async def _send(self, provider: Provider, method: str, scope: dict, headers: dict[str, str], path: str,
                    content: bytes, secret: str, resource_url: str | None) -> Response:
        """The upstream response once its headers are in; 504 past the upstream timeout, 502 if unreachable."""
        out = {k: v for k, v in headers.items() if k not in _STRIP and not k.startswith("x-spanlens-")}
        out["accept-encoding"] = "identity"  # the answer is read as well as forwarded
        query = scope.get("query_string") or b""
        params = parse_qsl(query.decode("latin-1"), keep_blank_values=True) if query else []
        provider.credential(out, params, secret)
        url = provider.base(self.bases[provider.name], resource_url) + path
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self.upstream.request(method, url, params, out, content)  # type: ignore[union-attr]
        except TimeoutError:
            raise UpstreamTimeout(f"{provider.name} did not answer within {int(self.timeout_s * 1000)} ms",
                                  details={"provider": provider.name,
                                           "timeoutMs": int(self.timeout_s * 1000)}) from None
        except (UpstreamError, OSError) as exc:
            raise UpstreamFailed(f"Could not reach {provider.name}: {type(exc).__name__}: {exc}",
                                 details={"provider": provider.name}) from None

    def _log(self, ex: record.Exchange, raw: bytes, truncated: bool, t_end: float, end_ns: int) -> None:
        """Build the record after the answer is sent; store it in the background."""
        try:
            batch = record.build(ex, raw, truncated, t_end, end_ns)
        except Exception:
            self.logger.exception("could not build the log record of %s", ex.ctx.request_id)
            return
        self.logs.add(batch, ex.ctx)


def _parse_json(body: bytes, content_type: str) -> Any:
    """The JSON body (None when empty or not JSON by content type); 400 for broken JSON."""
    media = content_type.split(";", 1)[0].strip().lower()
    if not body or (media and not media.endswith("json")):
        return None
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidJsonBody(f"Request body is not valid JSON: {exc}") from None
    if depth_of(doc, DEFAULT.max_depth) > DEFAULT.max_depth:
        raise InvalidJsonBody(f"Request body is nested deeper than {DEFAULT.max_depth} levels")
    return doc


def _with_usage_option(provider: Provider, parsed: Any, body: bytes) -> bytes:
    """The body with ``stream_options.include_usage`` merged in, where the provider takes it."""
    if not provider.inject_usage or not isinstance(parsed, dict):
        return body
    options = parsed.get("stream_options")
    options = options if isinstance(options, dict) else {}
    if options.get("include_usage") is True:
        return body
    return orjson.dumps({**parsed, "stream_options": {**options, "include_usage": True}})
