"""Fixtures for the proxy tests: a stub upstream, ENCRYPTION_KEY, a running service with the proxy."""
from __future__ import annotations

import base64
import time

import pytest

from spanlens_pipeline.component import Kind
from spanlens_pipeline.extensions.keystore import KeyStore, crypto
from spanlens_pipeline.extensions.keystore.provider_keys import ProviderKeys
from spanlens_pipeline.receivers.proxy.providers import PROVIDERS
from spanlens_pipeline.registry import Registry

from ..support.running import RunningService, start_service
from ..support.stub_upstream import StubUpstream

ENCRYPTION_KEY = base64.b64encode(bytes(range(32))).decode()
AZURE_RESOURCE = "https://stub-resource.openai.azure.com"
# Processors of the test pipeline: those of the full default chain that are installed.
PROCESSORS = [p for p in ("auth", "genai", "cost", "truncation") if Registry.default().get(Kind.PROCESSOR, p)]
RECEIVERS = [r for r in ("otlp", "ingest", "proxy") if Registry.default().get(Kind.RECEIVER, r)]


def proxy_yaml(stub: StubUpstream, extra: str = "", bases: dict[str, str] | None = None,
               extensions: str = "") -> str:
    """A service with the proxy (and OTLP, ingest) on one port, every provider pointed at the stub,
    each receiver answering through the write-ahead log as in the shipped configs.

    ``extra`` adds proxy settings (indented 4), ``bases`` overrides provider bases,
    ``extensions`` adds extension definitions (indented 2).
    """
    bases = {name: f"{stub.url}/{name}{'/v1' if name == 'openai' else ''}" for name in PROVIDERS} | (bases or {})
    base_yaml = "\n".join(f"      {name}:\n        api_base: {url}" for name, url in bases.items())
    others = "".join(f"  {r}:\n    endpoint: 127.0.0.1:{{port}}\n    wal: wal\n" for r in RECEIVERS if r != "proxy")
    ext_ids = ["storage", "wal", "keystore"] + [line.strip().rstrip(":") for line in extensions.splitlines()
                              if line.startswith("  ") and not line.startswith("   ") and line.strip()]
    return f"""
extensions:
  storage:
    endpoint: chdb://{{chdb}}
  wal:
    directory: {{data}}/wal-{{port}}
  keystore:
    path: {{data}}/keystore.db
    bootstrap_default_key: false
{extensions}receivers:
{others}  proxy:
    endpoint: 127.0.0.1:{{port}}
    wal: wal
{extra}    providers:
{base_yaml}
processors:
{chr(10).join(f'  {p}:' for p in PROCESSORS)}
exporters:
  clickhouse:
service:
  extensions: [{', '.join(ext_ids)}]
  pipelines:
    traces:
      receivers: [{', '.join(RECEIVERS)}]
      processors: [{', '.join(PROCESSORS)}]
      exporters: [clickhouse]
"""


@pytest.fixture(scope="session")
def encryption_key():
    mp = pytest.MonkeyPatch()
    mp.setenv(crypto.ENV_VAR, ENCRYPTION_KEY)
    yield crypto.parse_key(ENCRYPTION_KEY)
    mp.undo()


@pytest.fixture(scope="session")
def stub():
    s = StubUpstream().start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def proxy(tmp_path_factory, chdb_path, stub, encryption_key) -> RunningService:
    rs = start_service(proxy_yaml(stub), tmp_path_factory.mktemp("proxy"), chdb_path)
    yield rs
    rs.stop()


def add_provider_key(rs: RunningService, raw_key: str, provider: str, secret: str | None = None,
                     key: bytes | None = None) -> None:
    """Register an encrypted provider key under a Spanlens key (as the CLI does)."""
    store = KeyStore(rs.keystore_path)
    try:
        info = store.find_key(raw_key)
        token = crypto.encrypt(key or crypto.key_from_env(), secret or f"sk-test-{provider}-0123456789abcdef")
        ProviderKeys(store).add(info.id, provider, token,
                                resource_url=AZURE_RESOURCE if provider == "azure" else None)
    finally:
        store.close()


@pytest.fixture
def key(proxy, project) -> str:
    """A Spanlens key of the test's project with a key for every provider."""
    raw = proxy.new_key(project)
    for name in PROVIDERS:
        add_provider_key(proxy, raw, name)
    return raw


def wait_rows(store, sql: str, params: dict, n: int = 1, timeout: float = 30) -> list[dict]:
    """Poll until the query returns at least ``n`` rows (proxy logs are stored after the answer)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = store.query(sql, params)
        if len(rows) >= n or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def request_row(store, request_id: str) -> dict:
    rows = wait_rows(store, "SELECT * FROM spanlens.requests FINAL WHERE id = {id:String}", {"id": request_id})
    assert rows, f"no request row for {request_id}"
    return rows[0]


def proxy_span(store, request_id: str) -> dict:
    rows = wait_rows(store, "SELECT *, duration_ns FROM spanlens.spans FINAL WHERE request_id = {id:String}",
                     {"id": request_id})
    assert rows, f"no span for {request_id}"
    return rows[0]


def expected_cost(provider: str, model: str, input_tokens: int, output_tokens: int, cache_read: int = 0,
                  cache_write: int = 0):
    """The cost the shipped price table gives these counts (what the cost processor must store)."""
    from spanlens_pipeline.processors.cost import load_table
    from spanlens_pipeline.processors.cost.config import Config

    price = load_table(Config()).find(provider, model)
    assert price is not None, f"no shipped price for {provider}/{model}"
    return price.cost(input_tokens, output_tokens, cache_read, cache_write)
