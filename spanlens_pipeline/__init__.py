"""Spanlens Pipeline: an OpenTelemetry-Collector-style ingest service for LLM observability."""

__version__ = "0.1.0"
