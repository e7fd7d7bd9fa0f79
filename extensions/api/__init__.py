"""api extension: read routes on the shared HTTP endpoint.

``GET /api/v1/traces/{id}`` returns one trace of the caller's project as a tree (see
``tree``). Full and public keys may read; rows are always filtered by the key's project,
so an id from another project answers 404 exactly like an unknown one.

With ``web_page: true`` (the default) the same endpoint serves the built-in web page at
``/`` and its files at ``/ui/*`` (see ``web``).
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from spanlens_pipeline.component import Extension, Factory, Host, Kind, Settings, extension_of
from spanlens_pipeline.errors import NotFound
from spanlens_pipeline.extensions.keystore import KeystoreExtension
from spanlens_pipeline.extensions.storage import StorageExtension
from spanlens_pipeline.http import json_response
from spanlens_pipeline.ids import id_param

from . import cli
from .tree import load_trace
from .web import WebPage


@dataclass
class Config:
    endpoint: str = "localhost:4318"
    keystore: str = "keystore"  # id of the keystore extension
    storage: str = "storage"  # id of the storage extension that is read
    web_page: bool = True  # serve the built-in web page at / and /ui/*


class ApiExtension(Extension):
    config: Config

    def __init__(self, settings: Settings, config: Config) -> None:
        super().__init__(settings, config)
        self.keystore: KeystoreExtension | None = None
        self.storage: StorageExtension | None = None

    async def start(self, host: Host) -> None:
        self.keystore = extension_of(host, self.config.keystore, KeystoreExtension)
        self.storage = extension_of(host, self.config.storage, StorageExtension)
        server = host.http(self.config.endpoint)
        server.add_route("/api/v1/traces/{trace_id}", self.get_trace, ["GET"])
        if self.config.web_page:
            page = WebPage()
            server.add_route("/", page.index, ["GET"])
            server.add_route("/ui/{name}", page.asset, ["GET"])

    async def get_trace(self, request: Request) -> Response:
        assert self.keystore is not None and self.storage is not None, "api extension not started"
        tenant = self.keystore.authenticate(dict(request.headers), write=False)
        trace_id = id_param(request.path_params["trace_id"], "id", trace=True)
        trace = await asyncio.to_thread(load_trace, self.storage.named, tenant.project_id, trace_id)
        if trace is None:
            raise NotFound("Trace not found")
        return json_response({"success": True, "data": trace})


factory = Factory(type="api", kind=Kind.EXTENSION, config=Config, create=ApiExtension, commands=cli.register)
