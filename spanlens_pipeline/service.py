"""The service: builds components from a checked config, wires pipelines, runs them.

Start order: extensions → exporters → processors → receivers → HTTP servers. Stop order
is the reverse: HTTP servers stop accepting and finish in-flight requests, receivers and
processors drain, exporters flush, extensions close. SIGTERM and SIGINT stop gracefully.
"""
from __future__ import annotations

import asyncio
import logging
import signal

from .component import Component, Exporter, Extension, Kind, Processor, Receiver, Settings
from .config import Config
from .http import HttpServer
from .pipeline import Fanout, Observed, Pipeline

log = logging.getLogger("spanlens_pipeline.service")


class Service:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.extensions: dict[str, Extension] = {}
        self.exporters_by_id: dict[str, Exporter] = {}
        self.receivers: dict[str, Receiver] = {}
        self.processors: list[Processor] = []
        self.pipelines: list[Pipeline] = []
        self.servers: dict[str, HttpServer] = {}
        self._stop = asyncio.Event()
        self._build()

    def _create(self, kind: Kind, cid: str, instance_id: str | None = None) -> Component:
        cc = self.config.get(kind, cid)
        settings = Settings(id=instance_id or cid, logger=logging.getLogger(f"spanlens_pipeline.{kind.value}.{cid}"))
        return cc.factory.create(settings, cc.config)

    def _build(self) -> None:
        cfg = self.config
        for eid in cfg.extensions:
            self.extensions[eid] = self._create(Kind.EXTENSION, eid)  # type: ignore[assignment]
        feeds: dict[str, list[Pipeline]] = {}
        for pl in cfg.pipelines:
            exporters = []
            for eid in pl.exporters:
                if eid not in self.exporters_by_id:
                    self.exporters_by_id[eid] = self._create(Kind.EXPORTER, eid)  # type: ignore[assignment]
                exporters.append(self.exporters_by_id[eid])
            procs = [self._create(Kind.PROCESSOR, p, f"{p}@{pl.id}") for p in pl.processors]
            self.processors.extend(procs)  # type: ignore[arg-type]
            pipeline = Pipeline(pl.id, procs, exporters)  # type: ignore[arg-type]
            self.pipelines.append(pipeline)
            for rid in pl.receivers:
                feeds.setdefault(rid, []).append(pipeline)
        for rid, pipelines in feeds.items():
            receiver: Receiver = self._create(Kind.RECEIVER, rid)  # type: ignore[assignment]
            receiver.next = Observed(rid, pipelines[0] if len(pipelines) == 1 else Fanout(pipelines))
            self.receivers[rid] = receiver

    # -- Host -------------------------------------------------------------------------
    def extension(self, component_id: str) -> Extension:
        try:
            return self.extensions[component_id]
        except KeyError:
            raise LookupError(f"extension {component_id!r} is not enabled in service::extensions") from None

    def http(self, endpoint: str) -> HttpServer:
        if endpoint not in self.servers:
            self.servers[endpoint] = HttpServer(endpoint)
        return self.servers[endpoint]

    def exporters(self) -> list[Exporter]:
        return list(self.exporters_by_id.values())

    # -- lifecycle --------------------------------------------------------------------
    async def start(self) -> None:
        started: list[Component] = []
        try:
            for group in (self.extensions.values(), self.exporters_by_id.values(), self.processors,
                          self.receivers.values()):
                for comp in group:
                    await comp.start(self)
                    started.append(comp)
            for server in self.servers.values():
                await server.start()
                log.info("listening on http://%s", server.endpoint)
        except BaseException:
            for server in self.servers.values():
                await server.stop()
            for done in reversed(started):
                await done.shutdown()
            raise

    async def shutdown(self) -> None:
        for server in self.servers.values():
            await server.stop()
        for group in (self.receivers.values(), self.processors, self.exporters_by_id.values(),
                      self.extensions.values()):
            for comp in list(group)[::-1]:
                try:
                    await comp.shutdown()
                except Exception:
                    log.exception("error while stopping %s", comp.id)

    def request_stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Start, serve until SIGTERM/SIGINT (or ``request_stop``), then stop gracefully."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, self.request_stop)
            except (NotImplementedError, RuntimeError):  # not the main thread
                pass
        await self.start()
        try:
            await self._stop.wait()
        finally:
            log.info("stopping")
            await self.shutdown()
