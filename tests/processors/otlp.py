"""Kept so older imports work: the helpers live in tests/support/otlp.py."""
from ..support.otlp import COLUMNS, send, stored  # noqa: F401
