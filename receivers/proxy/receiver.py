"""The proxy receiver: ``/proxy/<provider>/…`` to the provider, the call logged through the pipeline.

Order per request: provider from the path → Spanlens key (401/403) → body read and
checked → rate limit → provider key and decryption (400/503) → upstream (502/504). The
answer streams back as it arrives; once it has ended, one span and one request row go
to the pipeline through a short buffer (``logbuffer``) that ``shutdown`` empties.
"""
from __future__ import annotations

import asyncio
import inspect
import time
from typing import Any

import httpx
import orjson
from starlette.requests import Request
from starlette.responses import Response

from spanlens_pipeline.component import Host, Receiver, Settings, extension_of
from spanlens_pipeline.errors import (DecryptFailed, InvalidJsonBody, NoProviderKey, NotFound, UpstreamFailed,
                                      UpstreamTimeout)
from spanlens_pipeline.extensions.keystore import KeystoreExtension, crypto
from spanlens_pipeline.http import json_response, request_id_of
from spanlens_pipeline.model import RequestContext
from spanlens_pipeline.pipeline import refusing
from spanlens_pipeline.body import read_raw

from . import record
from .config import Config
from .logbuffer import LogBuffer
from .providers import PROVIDERS, Provider
from .pump import Pump, response_headers

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
# Request headers never sent upstream (besides every x-spanlens-* header).
_STRIP = frozenset(("authorization", "x-api-key", "x-goog-api-key", "host", "connection", "keep-alive",
                    "transfer-encoding", "content-length", "expect", "te", "upgrade", "proxy-authorization",
                    "proxy-connection", "accept-encoding"))


class ProxyReceiver(Receiver):
    config: Config

    def __init__(self, settings: Settings, config: Config) -> None:
        super().__init__(settings, config)
        self.client: httpx.AsyncClient | None = None
        self.logs = LogBuffer(lambda batch, ctx: self.next.consume(batch, ctx), config.log_flush_interval / 1000,
                              self.logger)

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
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(None), follow_redirects=False,
                                        limits=httpx.Limits(max_connections=None, max_keepalive_connections=256))
        server = host.http(cfg.endpoint)
        server.add_route(cfg.path_prefix + "/{provider}/{rest:path}", self.handle, METHODS)
        server.add_route(cfg.path_prefix + "/{provider}", self.handle, METHODS)
        server.add_route("/api/v1/me/key-info", self.key_info, ["GET"])

    async def shutdown(self) -> None:
        await self.logs.close()
        if self.client:
            await self.client.aclose()

    async def key_info(self, request: Request) -> Response:
        tenant = self.keystore.authenticate(dict(request.headers), write=False)
        return json_response({"data": {"projectId": tenant.project_id, "projectName": tenant.project_name,
                                       "providers": self.keys.providers(tenant.api_key_id),
                                       "scope": tenant.scope}})

    async def handle(self, request: Request) -> Any:
        t0, start_ns = time.perf_counter(), time.time_ns()
        name = request.path_params["provider"]
        provider = PROVIDERS.get(name)
        if provider is None:
            raise NotFound(f"Unknown provider {name!r}", details={"provider": name, "providers": list(PROVIDERS)})
        headers = dict(request.headers)
        with refusing(self.next):  # a refused key counts in /metrics like a refused admit
            tenant = self.keystore.authenticate(headers, write=True)
        ctx = RequestContext(headers=headers, client=request.client.host if request.client else None,
                             path=request.url.path, request_id=request_id_of(request), write=True, tenant=tenant)
        await self.next.admit(ctx)
        body = await self._read_body(request)
        parsed = _parse_json(body, headers.get("content-type", ""))
        extra = await self._rate_limit(tenant, headers.get("x-spanlens-user") or None)
        pkey = self.keys.active(tenant.api_key_id, name)
        if pkey is None:
            raise NoProviderKey(f"No active {name} key is registered for this Spanlens key",
                                details={"provider": name})
        try:
            secret = crypto.decrypt(self.encryption_key, pkey.encrypted_key)
        except crypto.DecryptError as exc:
            self.logger.error("provider key %s (%s) cannot be decrypted: %s; check ENCRYPTION_KEY", pkey.id, name, exc)
            raise DecryptFailed("The stored provider key could not be decrypted; check ENCRYPTION_KEY",
                                details={"provider": name}) from None
        path = "/" + request.path_params.get("rest", "")
        streamed = provider.is_stream(path, parsed)
        content = _with_usage_option(provider, parsed, body) if streamed else body
        upstream = self._upstream_request(provider, request, headers, path, content, secret, pkey.resource_url)
        ex = record.Exchange(provider, tenant, ctx, request.method, path, body, parsed, streamed, pkey.id,
                             start_ns, t0)
        ex.t_send = time.perf_counter()
        resp = await self._send(provider, upstream)
        ex.t_headers = time.perf_counter()
        ex.status = resp.status_code
        ex.content_type = resp.headers.get("content-type", "")
        ex.content_encoding = resp.headers.get("content-encoding", "").lower()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.deadline_s - (ex.t_headers - t0)
        return Pump(resp, response_headers(resp, extra), deadline,
                    lambda raw, truncated: self._log(ex, raw, truncated))

    async def _read_body(self, request: Request) -> bytes:
        if request.method in ("GET", "HEAD"):
            return b""
        return await read_raw(request, self.config.max_request_body_size)

    async def _rate_limit(self, tenant, end_user: str | None) -> dict[str, str]:
        if self.limiter is None:
            return {}
        result = self.limiter.check(tenant, end_user)
        if inspect.isawaitable(result):
            result = await result
        return dict(result or {})

    def _upstream_request(self, provider: Provider, request: Request, headers: dict[str, str], path: str,
                          content: bytes, secret: str, resource_url: str | None) -> httpx.Request:
        out = {k: v for k, v in headers.items() if k not in _STRIP and not k.startswith("x-spanlens-")}
        out["accept-encoding"] = "identity"  # the answer is read as well as forwarded
        params = list(request.query_params.multi_items())
        provider.credential(out, params, secret)
        url = provider.base(self.bases[provider.name], resource_url) + path
        return self.client.build_request(request.method, url, params=params or None, headers=out,  # type: ignore[union-attr]
                                         content=content or None)

    async def _send(self, provider: Provider, upstream: httpx.Request) -> httpx.Response:
        try:
            return await asyncio.wait_for(self.client.send(upstream, stream=True), self.timeout_s)  # type: ignore[union-attr]
        except asyncio.TimeoutError:
            raise UpstreamTimeout(f"{provider.name} did not answer within {int(self.timeout_s * 1000)} ms",
                                  details={"provider": provider.name, "timeoutMs": int(self.timeout_s * 1000)}) from None
        except httpx.HTTPError as exc:
            raise UpstreamFailed(f"Could not reach {provider.name}: {type(exc).__name__}: {exc}",
                                 details={"provider": provider.name}) from None

    def _log(self, ex: record.Exchange, raw: bytes, truncated: bool) -> None:
        """Build the record now; store it in the background (the client is already answered)."""
        try:
            batch = record.build(ex, raw, truncated, time.perf_counter(), time.time_ns())
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
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidJsonBody(f"Request body is not valid JSON: {exc}") from None


def _with_usage_option(provider: Provider, parsed: Any, body: bytes) -> bytes:
    """The body with ``stream_options.include_usage`` merged in, where the provider takes it."""
    if not provider.inject_usage or not isinstance(parsed, dict):
        return body
    options = parsed.get("stream_options")
    options = options if isinstance(options, dict) else {}
    if options.get("include_usage") is True:
        return body
    return orjson.dumps({**parsed, "stream_options": {**options, "include_usage": True}})
