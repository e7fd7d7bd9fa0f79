"""Self-telemetry: counters and gauges served in Prometheus text format at ``/metrics``.

Components create metrics once (``counter("name", "help")``) and update them on the hot
path; every HTTP endpoint serves the same registry.
"""
from __future__ import annotations

import threading
from collections.abc import Callable


class Counter:
    def __init__(self, name: str, help_text: str) -> None:
        self.name, self.help = name, help_text
        self._values: dict[tuple[tuple[str, str], ...], float] = {}
        self._lock = threading.Lock()

    def inc(self, amount: float = 1, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            self._values[key] = self._values.get(key, 0) + amount

    def value(self, **labels: str) -> float:
        return self._values.get(tuple(sorted(labels.items())), 0)

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        for key, v in sorted(self._values.items()):
            lines.append(f"{self.name}{_labels(key)} {v:g}")
        return lines


class Gauge:
    def __init__(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        self.name, self.help, self.read = name, help_text, read

    def render(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} gauge", f"{self.name} {self.read():g}"]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _labels(key: tuple[tuple[str, str], ...]) -> str:
    if not key:
        return ""
    inner = ",".join(f'{k}="{_escape(str(v))}"' for k, v in key)
    return "{" + inner + "}"


_registry: dict[str, Counter | Gauge] = {}
_lock = threading.Lock()


def counter(name: str, help_text: str) -> Counter:
    """The counter named ``name`` (created on first use)."""
    with _lock:
        existing = _registry.get(name)
        if existing is None:
            existing = _registry[name] = Counter(name, help_text)
        assert isinstance(existing, Counter)
        return existing


def gauge(name: str, help_text: str, read: Callable[[], float]) -> Gauge:
    with _lock:
        g = _registry[name] = Gauge(name, help_text, read)
        return g


def render() -> str:
    with _lock:
        items = list(_registry.values())
    return "\n".join(line for m in items for line in m.render()) + "\n"
