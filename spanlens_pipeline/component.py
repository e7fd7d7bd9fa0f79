"""The component API: four kinds, each built by a factory from a typed config.

A component type ships a ``Factory``: its type name, its kind, its config dataclass (see
``confschema``) and a ``create`` callable. The service builds each component from its
factory, wires it into pipelines, then starts them (exporters, processors, receivers) and
stops them in the reverse order.

Data moves through ``Consumer``s: a receiver holds one (the pipelines it feeds) and calls
``admit(ctx)`` before decoding a request body (auth, limits) and ``consume(batch, ctx)``
after; both may raise a ``SpanlensError`` that the receiver's client then sees.
"""
from __future__ import annotations

import builtins
import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from .bulksql import SqlStep
from .model import Batch, RawRequest, RequestContext

if TYPE_CHECKING:
    from .http import HttpServer


class Kind(enum.StrEnum):
    RECEIVER = "receiver"
    PROCESSOR = "processor"
    EXPORTER = "exporter"
    EXTENSION = "extension"

    @property
    def section(self) -> str:
        return self.value + "s"


@dataclass(frozen=True)
class Settings:
    """What a factory gets besides the config: the component's id and a logger."""

    id: str
    logger: logging.Logger


@dataclass(frozen=True)
class Factory:
    """How to build one component type. ``commands`` optionally adds CLI sub-commands
    (called with argparse's sub-parsers), so the frame's CLI never imports a component."""

    type: str
    kind: Kind
    config: builtins.type
    create: Callable[[Settings, Any], Component]
    commands: Callable[[Any], None] | None = None


class Host(Protocol):
    """What a component may ask of the running service."""

    def extension(self, component_id: str) -> Extension: ...

    def http(self, endpoint: str) -> HttpServer: ...

    def exporters(self) -> list[Exporter]: ...


E = TypeVar("E", bound="Extension")


def extension_of(host: Host, component_id: str, cls: type[E]) -> E:
    """The started extension ``component_id``, checked to be a ``cls``.

    Components reach each other only this way: through the host, by id."""
    ext = host.extension(component_id)
    if not isinstance(ext, cls):
        raise LookupError(f"extension {component_id!r} is a {type(ext).__name__}, not a {cls.__name__}")
    return ext


class Consumer(Protocol):
    async def admit(self, ctx: RequestContext) -> None: ...

    async def consume(self, batch: Batch, ctx: RequestContext) -> None: ...


class Component:
    """Base of every component: a settings holder with start and shutdown hooks."""

    def __init__(self, settings: Settings, config: Any) -> None:
        self.id = settings.id
        self.logger = settings.logger
        self.config = config

    async def start(self, host: Host) -> None:
        """Acquire resources; called once before any data flows."""

    async def shutdown(self) -> None:
        """Release resources, flushing anything in flight."""


class Extension(Component):
    """A component outside the data path (key store, health, metrics)."""


class Receiver(Component):
    """Turns requests into batches and hands them to ``self.next``."""

    next: Consumer


class Processor(Component):
    """One link of a pipeline's chain.

    ``admit`` runs before the request body is decoded (refuse early: bad key, over limit);
    ``process`` edits or replaces the batch. Raise a ``SpanlensError`` to refuse.
    ``bulk_sql`` is the same span step as SQL, for OTLP requests stored in bulk.
    """

    async def admit(self, ctx: RequestContext) -> None:
        return None

    async def process(self, batch: Batch, ctx: RequestContext) -> Batch:
        return batch

    def bulk_sql(self) -> SqlStep | None:
        """This processor's step on the bulk OTLP path (see ``bulksql``), or None when it has
        none: a pipeline holding such a processor stores its OTLP requests through ``process``."""
        return None


class Exporter(Component):
    """Writes batches out. ``export`` returns once the batch is durably stored."""

    async def export_raw(self, kind: str, requests: list[RawRequest], steps: list[SqlStep],
                         options: Any) -> tuple[int, list[int]]:
        """Store ``requests`` (bodies of format ``kind``) without records, the processors' work
        done by ``steps``; return the spans stored and the positions of the requests left for
        the record path (all of them when it cannot store this format). ``options`` are the
        receiver's decode settings."""
        return 0, list(range(len(requests)))

    async def export(self, batch: Batch, ctx: RequestContext) -> None:
        raise NotImplementedError
