"""Kept so older imports work: the builders live in tests/support/otlp.py."""
from ..support.otlp import json_request, json_span, kv, pb_request, pb_span  # noqa: F401
