"""api extension: read routes on the shared HTTP endpoint.

``GET /api/v1/traces/{id}`` returns one trace of the caller's project as a tree (see
``tree``). Full and public keys may read; rows are always filtered by the key's project,
so an id from another project answers 404 exactly like an unknown one.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from spanlens_pipeline.component import Extension, Factory, Host, Kind, Settings
from spanlens_pipeline.errors import NotFound
from spanlens_pipeline.extensions.keystore import KeystoreExtension
from spanlens_pipeline.http import json_response
from spanlens_pipeline.processors.auth import authenticate
from spanlens_pipeline.processors.parent_link.lookup import SpanIndex, clickhouse_of
from spanlens_pipeline.receivers.ingest.validation import path_id

from .tree import load_trace


@dataclass
class Config:
    endpoint: str = "localhost:4318"
    keystore: str = "keystore"  # id of the keystore extension
    exporter: str = "clickhouse"  # the ClickHouse exporter whose store is read


class ApiExtension(Extension):
    config: Config

    def __init__(self, settings: Settings, config: Config) -> None:
        super().__init__(settings, config)
        self.host: Host | None = None
        self.reader = SpanIndex(None)

    async def start(self, host: Host) -> None:
        self.host = host
        self.reader.exporter = clickhouse_of(host, self.config.exporter)
        host.http(self.config.endpoint).add_route("/api/v1/traces/{trace_id}", self.get_trace, ["GET"])

    async def get_trace(self, request: Request) -> Response:
        assert self.host is not None
        keystore = self.host.extension(self.config.keystore)
        assert isinstance(keystore, KeystoreExtension) and keystore.store is not None
        tenant = authenticate(keystore.store, dict(request.headers), write=False)
        trace_id = path_id(request.path_params["trace_id"], "id", trace=True)
        trace = await asyncio.to_thread(load_trace, self.reader.query_sync, tenant.project_id, trace_id)
        if trace is None:
            raise NotFound("Trace not found")
        return json_response({"success": True, "data": trace})


factory = Factory(type="api", kind=Kind.EXTENSION, config=Config, create=ApiExtension)
