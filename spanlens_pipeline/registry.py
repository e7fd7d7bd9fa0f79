"""The component registry: factories by kind and type name.

Built-in components are listed here. Third-party packages add theirs through the entry
point group ``spanlens_pipeline.components``; each entry point names a ``Factory`` (or a
callable returning one or a list of them).
"""
from __future__ import annotations

import importlib
import logging
import pkgutil
from importlib.metadata import entry_points

from .component import Factory, Kind

ENTRY_POINT_GROUP = "spanlens_pipeline.components"

# Built-in components: every sub-package of these packages that exposes ``factory``.
_BUILTIN_PACKAGES = (
    "spanlens_pipeline.receivers",
    "spanlens_pipeline.processors",
    "spanlens_pipeline.exporters",
    "spanlens_pipeline.extensions",
)


def _builtin_factories() -> list[Factory]:
    out = []
    for package_name in _BUILTIN_PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package_name}.{info.name}")
            factory = getattr(module, "factory", None)
            if isinstance(factory, Factory):
                out.append(factory)
    return out

log = logging.getLogger(__name__)


class Registry:
    def __init__(self) -> None:
        self._factories: dict[tuple[Kind, str], Factory] = {}

    def register(self, factory: Factory) -> None:
        key = (factory.kind, factory.type)
        if key in self._factories and self._factories[key] is not factory:
            raise ValueError(f"{factory.kind.value} type {factory.type!r} is registered twice")
        self._factories[key] = factory

    def get(self, kind: Kind, type_name: str) -> Factory | None:
        return self._factories.get((kind, type_name))

    def factories(self) -> list[Factory]:
        """Every registered factory, in registration order."""
        return list(self._factories.values())

    def types(self, kind: Kind) -> list[str]:
        return [t for (k, t) in self._factories if k is kind]

    _default: Registry | None = None

    @classmethod
    def default(cls) -> Registry:
        """Built-ins plus every installed entry point (loaded once)."""
        if cls._default is None:
            reg = cls()
            for factory in _builtin_factories():
                reg.register(factory)
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                try:
                    loaded = ep.load()
                    items = loaded() if callable(loaded) and not isinstance(loaded, Factory) else loaded
                    for f in items if isinstance(items, (list, tuple)) else [items]:
                        reg.register(f)
                except Exception:  # a broken plug-in must not stop the service
                    log.exception("could not load component entry point %s", ep.name)
            cls._default = reg
        return cls._default
