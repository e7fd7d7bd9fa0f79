"""The proxy fixtures (stub upstream, ENCRYPTION_KEY) for the end-to-end rate-limit tests."""
from ..proxy.conftest import encryption_key, stub  # noqa: F401  (fixtures)
