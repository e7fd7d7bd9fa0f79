"""api extension: the read API on the shared HTTP endpoint (all under ``/api/v1/``).

``traces`` (list) and ``traces/{id}`` (tree), ``requests`` and ``requests/{id}`` (the
proxy request log), ``sessions`` and ``stats``; ``/openapi.json`` describes them. A full
key reads its project; a public key reads its organization's projects. Every query is
filtered by those projects, so an id of another tenant answers 404 exactly like an
unknown one. Read-only: nothing here writes.

With ``web_page: true`` (the default) the same endpoint serves the built-in web page at
``/`` and its files at ``/ui/*`` (see ``web``).
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from spanlens_pipeline.component import Extension, Factory, Host, Kind, Settings, extension_of
from spanlens_pipeline.errors import NotFound
from spanlens_pipeline.extensions.keystore import KeystoreExtension
from spanlens_pipeline.extensions.storage import StorageExtension
from spanlens_pipeline.extensions.wal import WalExtension
from spanlens_pipeline.http import json_response
from spanlens_pipeline.ids import id_param
from spanlens_pipeline.model import Tenant

from . import cli, reads
from .config import Config
from .openapi import SPEC
from .tree import load_trace
from .web import WebPage


class ApiExtension(Extension):
    config: Config

    def __init__(self, settings: Settings, config: Config) -> None:
        super().__init__(settings, config)
        self.keystore: KeystoreExtension | None = None
        self.storage: StorageExtension | None = None
        self.wal: WalExtension | None = None

    async def start(self, host: Host) -> None:
        self.keystore = extension_of(host, self.config.keystore, KeystoreExtension)
        self.storage = extension_of(host, self.config.storage, StorageExtension)
        self.wal = extension_of(host, self.config.wal, WalExtension) if self.config.wal else None
        server = host.http(self.config.endpoint)
        server.add_route("/api/v1/traces", self.list_traces, ["GET"])
        server.add_route("/api/v1/traces/{trace_id}", self.get_trace, ["GET"])
        server.add_route("/api/v1/requests", self.list_requests, ["GET"])
        server.add_route("/api/v1/requests/{request_id}", self.get_request, ["GET"])
        server.add_route("/api/v1/sessions", self.list_sessions, ["GET"])
        server.add_route("/api/v1/stats", self.stats, ["GET"])
        server.add_route("/openapi.json", self.openapi, ["GET"])
        server.add_route("/api/v1/openapi.json", self.openapi, ["GET"])
        if self.config.web_page:
            page = WebPage()
            server.add_route("/", page.index, ["GET"])
            server.add_route("/ui/{name}", page.asset, ["GET"])

    async def _reader(self, request: Request) -> tuple[Tenant, list[str]]:
        """The caller and the projects it may read, once the caller's acknowledged writes are stored."""
        assert self.keystore is not None and self.storage is not None, "api extension not started"
        tenant = self.keystore.authenticate(dict(request.headers), write=False)
        if self.wal is not None:
            await self.wal.caught_up(self.config.read_after_write_wait / 1000)
        projects = [tenant.project_id]
        if tenant.is_public:
            assert self.keystore.store is not None
            # The key's own project first: a trace id held by two projects reads as the key's own.
            others = self.keystore.store.project_ids(tenant.organization_id)
            projects += [p for p in others if p != tenant.project_id]
        return tenant, projects

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        assert self.storage is not None
        return await asyncio.to_thread(fn, self.storage.filtered, *args)

    async def list_traces(self, request: Request) -> Response:
        tenant, projects = await self._reader(request)
        f = reads.Filters.parse(request.query_params)
        return json_response(await self._run(reads.list_traces, tenant, projects, f))

    async def get_trace(self, request: Request) -> Response:
        tenant, projects = await self._reader(request)
        trace_id = id_param(request.path_params["trace_id"], "id", trace=True)
        assert self.storage is not None
        trace = await asyncio.to_thread(self._load_trace, projects, trace_id)
        if trace is None:
            raise NotFound("Trace not found")
        return json_response({"success": True, "data": trace})

    def _load_trace(self, projects: list[str], trace_id: str) -> dict[str, Any] | None:
        assert self.storage is not None
        for project_id in projects:
            trace = load_trace(self.storage.named, project_id, trace_id)
            if trace is not None:
                return trace
        return None

    async def list_requests(self, request: Request) -> Response:
        tenant, projects = await self._reader(request)
        f = reads.Filters.parse(request.query_params)
        return json_response(await self._run(reads.list_requests, tenant, projects, f))

    async def get_request(self, request: Request) -> Response:
        tenant, projects = await self._reader(request)
        found = await self._run(reads.get_request, tenant, projects, request.path_params["request_id"])
        if found is None:
            raise NotFound("Request not found")
        return json_response({"success": True, "data": found})

    async def list_sessions(self, request: Request) -> Response:
        tenant, projects = await self._reader(request)
        f = reads.Filters.parse(request.query_params)
        return json_response(await self._run(reads.list_sessions, tenant, projects, f))

    async def stats(self, request: Request) -> Response:
        tenant, projects = await self._reader(request)
        f = reads.Filters.parse(request.query_params)
        by = request.query_params.get("group_by") or "model"
        return json_response(await self._run(reads.stats, tenant, projects, f, by))

    async def openapi(self, request: Request) -> Response:
        return json_response(SPEC)


factory = Factory(type="api", kind=Kind.EXTENSION, config=Config, create=ApiExtension, commands=cli.register)
