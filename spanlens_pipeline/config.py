"""Loading and checking the YAML configuration.

Layout (as in the OpenTelemetry Collector)::

    receivers:  {<id>: {...}}      # id = "type" or "type/name"
    processors: {<id>: {...}}
    exporters:  {<id>: {...}}
    extensions: {<id>: {...}}
    service:
      extensions: [<id>, ...]
      pipelines:
        traces[/name]: {receivers: [...], processors: [...], exporters: [...]}

``${env:NAME}`` and ``${env:NAME:-default}`` are replaced before parsing; ``$$`` is a
literal ``$``. Every problem raises ``ConfigError`` naming the YAML path.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import confschema
from .component import Factory, Kind
from .errors import ConfigError
from .registry import Registry

_ENV_RE = re.compile(r"\$\$|\$\{env:([^}:]*)(?::-([^}]*))?\}")
_ID_RE = re.compile(r"^([a-zA-Z][0-9a-zA-Z_]{0,62})(?:/([^\s/][^\s]{0,1023}))?$")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TOP_KEYS = ("receivers", "processors", "exporters", "extensions", "service")
_PIPELINE_KEYS = ("receivers", "processors", "exporters")


def substitute_env(text: str, env: dict[str, str] | None = None) -> str:
    """Replace ``${env:NAME}`` / ``${env:NAME:-default}``; unset without default → empty."""
    names: Mapping[str, str] = os.environ if env is None else env

    def repl(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name, default = m.group(1), m.group(2)
        if not _ENV_NAME_RE.match(name):
            raise ConfigError("", f"environment variable {name!r} has an invalid name")
        if name in names:
            return names[name]
        return default if default is not None else ""

    return _ENV_RE.sub(repl, text)


@dataclass
class PipelineConfig:
    id: str
    receivers: list[str]
    processors: list[str]
    exporters: list[str]


@dataclass
class ComponentConfig:
    id: str
    kind: Kind
    factory: Factory
    config: Any


@dataclass
class Config:
    """A checked configuration: every component decoded, every reference resolved."""

    source: str
    components: dict[tuple[Kind, str], ComponentConfig] = field(default_factory=dict)
    extensions: list[str] = field(default_factory=list)
    pipelines: list[PipelineConfig] = field(default_factory=list)

    def of_kind(self, kind: Kind) -> list[ComponentConfig]:
        return [c for (k, _), c in self.components.items() if k is kind]

    def get(self, kind: Kind, component_id: str) -> ComponentConfig:
        return self.components[(kind, component_id)]


def load(path: str | os.PathLike, registry: Registry | None = None) -> Config:
    """Read, substitute, parse and check a config file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("", f"cannot read config file {str(p)!r}: {exc.strerror or exc}") from None
    return parse(text, registry, source=str(p))


def parse(text: str, registry: Registry | None = None, source: str = "<string>") -> Config:
    registry = registry or Registry.default()
    try:
        data = yaml.safe_load(substitute_env(text))
    except yaml.YAMLError as exc:
        raise ConfigError("", f"invalid YAML: {exc}") from None
    if data is None:
        raise ConfigError("", "empty configuration file")
    if not isinstance(data, dict):
        raise ConfigError("", "the configuration must be a mapping")
    for key in data:
        if key not in _TOP_KEYS:
            raise ConfigError(str(key), f"unknown key (valid keys: {', '.join(_TOP_KEYS)})")

    cfg = Config(source=source)
    for kind in Kind:
        section = data.get(kind.section) or {}
        if not isinstance(section, dict):
            raise ConfigError(kind.section, "expected a mapping of component ids")
        for cid, body in section.items():
            path = f"{kind.section}::{cid}"
            m = _ID_RE.match(str(cid))
            if not m:
                raise ConfigError(path, "invalid component id (want 'type' or 'type/name')")
            factory = registry.get(kind, m.group(1))
            if factory is None:
                valid = ", ".join(sorted(registry.types(kind)))
                raise ConfigError(path, f"unknown type {m.group(1)!r} for id {cid!r} (valid values: {valid})")
            cfg.components[(kind, str(cid))] = ComponentConfig(
                str(cid), kind, factory, confschema.decode(factory.config, body, path))

    service = data.get("service")
    if not isinstance(service, dict):
        raise ConfigError("service", "is required and must be a mapping")
    for key in service:
        if key not in ("extensions", "pipelines"):
            raise ConfigError(f"service::{key}", "unknown key (valid keys: extensions, pipelines)")
    cfg.extensions = _id_list(service.get("extensions"), "service::extensions")
    for ext in cfg.extensions:
        if (Kind.EXTENSION, ext) not in cfg.components:
            raise ConfigError("service::extensions", f"references extension {ext!r} which is not configured")

    pipelines = service.get("pipelines")
    if not isinstance(pipelines, dict) or not pipelines:
        raise ConfigError("service::pipelines", "service must have at least one pipeline")
    for pid, body in pipelines.items():
        path = f"service::pipelines::{pid}"
        if not re.match(r"^traces(/[^\s/]+)?$", str(pid)):
            raise ConfigError(path, "pipeline id must be 'traces' or 'traces/<name>'")
        if not isinstance(body, dict):
            raise ConfigError(path, "expected a mapping")
        for key in body:
            if key not in _PIPELINE_KEYS:
                raise ConfigError(f"{path}::{key}", "unknown key (valid keys: receivers, processors, exporters)")
        pl = PipelineConfig(str(pid), *(_id_list(body.get(k), f"{path}::{k}") for k in _PIPELINE_KEYS))
        for key, kind in zip(_PIPELINE_KEYS, (Kind.RECEIVER, Kind.PROCESSOR, Kind.EXPORTER), strict=True):
            seen: set[str] = set()
            for ref in getattr(pl, key):
                if (kind, ref) not in cfg.components:
                    raise ConfigError(f"{path}::{key}", f"references {kind.value} {ref!r} which is not configured")
                if ref in seen:
                    raise ConfigError(f"{path}::{key}", f"references {kind.value} {ref!r} multiple times")
                seen.add(ref)
        if not pl.receivers:
            raise ConfigError(f"{path}::receivers", "must have at least one receiver")
        if not pl.exporters:
            raise ConfigError(f"{path}::exporters", "must have at least one exporter")
        cfg.pipelines.append(pl)

    used = {(Kind.EXTENSION, e) for e in cfg.extensions}
    for pl in cfg.pipelines:
        used |= {(Kind.RECEIVER, r) for r in pl.receivers} | {(Kind.PROCESSOR, p) for p in pl.processors}
        used |= {(Kind.EXPORTER, e) for e in pl.exporters}
    for key, comp in cfg.components.items():
        if key not in used:
            raise ConfigError(f"{comp.kind.section}::{comp.id}",
                              f"{comp.kind.value} is defined but not used by any pipeline or service::extensions")
    return cfg


def _id_list(value: Any, path: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(path, "expected a list of component ids")
    return list(value)
