"""A host for driving one component directly, without a whole service: it holds the
extensions the component asks for, already started."""
from __future__ import annotations

import logging
from typing import Any

from spanlens_pipeline.component import Exporter, Extension, Settings
from spanlens_pipeline.extensions.storage import Config as StorageConfig
from spanlens_pipeline.extensions.storage import StorageExtension


class StaticHost:
    def __init__(self, **extensions: Extension) -> None:
        self.extensions = extensions

    def extension(self, component_id: str) -> Extension:
        return self.extensions[component_id]

    def http(self, endpoint: str) -> Any:
        raise LookupError("this host serves no HTTP")

    def exporters(self) -> list[Exporter]:
        return []


async def storage_host(chdb_path: str, **settings: Any) -> StaticHost:
    """A host whose ``storage`` extension is the shared embedded store at ``chdb_path``."""
    ext = StorageExtension(Settings("storage", logging.getLogger("tests.storage")),
                           StorageConfig(endpoint=f"chdb://{chdb_path}", **settings))
    host = StaticHost(storage=ext)
    await ext.start(host)
    return host
