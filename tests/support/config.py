"""Build a service's YAML from parts (extensions, receivers, processors, exporters) instead of
editing YAML strings. ``{port}``, ``{data}`` and ``{chdb}`` stay for ``start_service`` to fill in.

    service_config(exporters={"debug": {"verbosity": "detailed"}, "nop": None})

starts from the test default (``BASE``) and replaces whole sections; the one ``traces``
pipeline lists every receiver, processor and exporter in order, and ``service::extensions``
every extension, unless ``pipelines`` says otherwise."""
from __future__ import annotations

from typing import Any

BASE: dict[str, dict[str, Any]] = {
    "extensions": {"storage": {"endpoint": "chdb://{chdb}"},
                   "keystore": {"path": "{data}/keystore.db", "bootstrap_default_key": False}},
    "receivers": {"otlp": {"endpoint": "127.0.0.1:{port}"}},
    "processors": {"auth": None, "genai": None, "cost": None},
    "exporters": {"clickhouse": None},
}
SECTIONS = ("extensions", "receivers", "processors", "exporters")


def service_config(*, pipelines: dict[str, dict[str, list[str]]] | None = None, **parts: dict[str, Any] | None) -> str:
    """The YAML of a service: ``BASE`` with the given sections replaced (``None``: left out)."""
    unknown = set(parts) - set(SECTIONS)
    assert not unknown, f"unknown sections {unknown}"
    doc = {s: (parts[s] if s in parts else BASE[s]) for s in SECTIONS}
    doc = {s: v for s, v in doc.items() if v}
    if pipelines is None:
        pipelines = {"traces": {k: list(doc[k]) for k in ("receivers", "processors", "exporters") if k in doc}}
    service: dict[str, Any] = {"extensions": list(doc.get("extensions", {}))} if doc.get("extensions") else {}
    service["pipelines"] = pipelines
    return "\n" + _emit({**doc, "service": service}, 0)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_scalar(v) for v in value) + "]"
    return str(value)


def _emit(node: dict[str, Any], depth: int) -> str:
    out = []
    for key, value in node.items():
        pad = "  " * depth
        if isinstance(value, dict) and value:
            out.append(f"{pad}{key}:\n" + _emit(value, depth + 1))
        elif value is None or value == {}:
            out.append(f"{pad}{key}:\n")
        else:
            out.append(f"{pad}{key}: {_scalar(value)}\n")
    return "".join(out)
