"""The proxy fixtures (stub upstream, ENCRYPTION_KEY) for the end-to-end rate-limit tests."""
import pytest

from ..proxy.conftest import encryption_key, stub  # noqa: F401  (fixtures)
from ..support.redis_server import start_redis


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A real redis-server on a free port for the session."""
    proc, url = start_redis(tmp_path_factory.mktemp("redis"))
    yield url
    proc.terminate()
    proc.wait(10)
