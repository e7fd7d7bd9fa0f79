"""Two pipeline replicas on the server config (``config/server.yaml``), as two real service
processes, against one ClickHouse HTTP endpoint and one Redis: keys, provider keys and rate
limits are shared, and spans sent to both are stored once."""
from __future__ import annotations

import base64
import os
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import clickhouse_connect
import httpx
import pytest

from spanlens_pipeline.extensions.keystore import ClickHouseKeyStore, ProviderKeys, crypto, hash_key
from spanlens_pipeline.extensions.storage import Store

from ..support.otlp import pb_request, pb_span
from ..support.process import ServiceProcess, start_clickhouse_http, start_service_process
from ..support.redis_server import start_redis
from ..support.running import REPO, run_cli
from ..support.stub_upstream import StubUpstream

ENCRYPTION_KEY = base64.b64encode(bytes(range(32))).decode()
PB = {"content-type": "application/x-protobuf"}
LIMIT, WINDOW = 20, "10s"
REFRESH_S = 2.0  # the keystore's default refresh_interval, which server.yaml keeps
DEADLINE_S = 20.0  # how long a test waits for a change to show (well past one refresh)
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def replica_config(path: Path, stub: StubUpstream) -> None:
    """config/server.yaml with the proxy pointed at the stub upstream and one customer limit."""
    text = (REPO / "config" / "server.yaml").read_text()
    out = []
    for line in text.splitlines():
        out.append(line)
        if line.startswith("  proxy:"):
            out.append(f"    providers: {{openai: {{api_base: '{stub.url}/openai/v1'}}}}")
        elif line.startswith("  ratelimit:"):
            out.append(f"    limits: [{{scope: api_key, requests: {LIMIT}, window: {WINDOW}}}]")
    assert len(out) == len(text.splitlines()) + 2, "server.yaml has no proxy or ratelimit section"
    path.write_text("\n".join(out) + "\n")


class Replicas:
    def __init__(self, a: ServiceProcess, b: ServiceProcess, config: Path, env: dict[str, str], ch_url: str):
        self.a, self.b, self.config, self.env, self.ch_url = a, b, config, env, ch_url
        self.store = Store(ch_url)
        self.keys = ClickHouseKeyStore(self.store, "spanlens", str(Path(env["SPANLENS_DATA_DIR"]) / "test.db"))

    @property
    def urls(self) -> list[str]:
        return [self.a.url, self.b.url]

    def cli(self, *args: str, input: str | None = None) -> str:
        out = run_cli(*args, config=str(self.config), env=self.env, input=input)
        assert out.returncode == 0, out.stderr
        return out.stdout

    def new_key(self, project: str, provider: bool = False) -> str:
        """A key written to the shared tables (as the CLI writes it), with an openai key if asked."""
        raw, info = self.keys.create_key(project)
        if provider:
            token = crypto.encrypt(crypto.parse_key(ENCRYPTION_KEY), "sk-test-openai-0123456789abcdef")
            ProviderKeys(self.keys).add(info.id, "openai", token)
        return raw


def otlp_status(url: str, key: str, body: bytes = b"") -> int:
    return httpx.post(url + "/v1/traces", content=body or pb_request([]), timeout=30,
                      headers={**PB, "authorization": f"Bearer {key}"}).status_code


def has_provider(url: str, key: str, provider: str) -> bool:
    r = httpx.get(url + "/api/v1/me/key-info", headers={"authorization": f"Bearer {key}"}, timeout=30)
    return r.status_code == 200 and provider in r.json()["data"]["providers"]


def wait_until(check: Callable[[], bool], deadline_s: float = DEADLINE_S) -> float:
    """Seconds until ``check`` held (polled); fails the test past the deadline."""
    t0 = time.monotonic()
    while not check():
        assert time.monotonic() - t0 < deadline_s, "the change never showed"
        time.sleep(0.1)
    return time.monotonic() - t0


@pytest.fixture(scope="module")
def replicas(tmp_path_factory):
    root = tmp_path_factory.mktemp("replicas")
    ch_proc, ch_url = start_clickhouse_http(root / "clickhouse")
    redis_proc, redis_url = start_redis(root)
    stub = StubUpstream().start()
    config = root / "replica.yaml"
    replica_config(config, stub)
    common = {"CLICKHOUSE_ENDPOINT": ch_url, "SPANLENS_REDIS_URL": redis_url, "ENCRYPTION_KEY": ENCRYPTION_KEY}
    procs: list[ServiceProcess] = []
    try:
        for name in ("a", "b"):
            env = {**common, "SPANLENS_DATA_DIR": str(root / name)}
            procs.append(start_service_process(env, str(config)))
        for p in procs:
            p.wait_ready()
        cli_env = {**common, "SPANLENS_DATA_DIR": str(root / "cli")}
        yield Replicas(procs[0], procs[1], config, cli_env, ch_url)
    finally:
        codes = [p.stop() for p in procs]
        stub.stop()
        redis_proc.terminate()
        ch_proc.terminate()
        redis_proc.wait(10)
        ch_proc.wait(10)
    assert codes == [0, 0], [p.output()[-2000:] for p in procs]


def test_a_key_created_once_by_the_cli_works_on_both(replicas):
    project = f"rep-{uuid.uuid4().hex[:8]}"
    out = replicas.cli("keys", "create", "--project", project)
    raw = out.strip().splitlines()[-1]
    waits = [wait_until(lambda url=url: otlp_status(url, raw) == 200) for url in replicas.urls]
    print(f"key usable on replica a after {waits[0]:.2f}s, on b after {waits[1]:.2f}s")
    # a provider key added by the CLI reaches both replicas too (the proxy's key-info lists it)
    prefix = out.split()[3]
    replicas.cli("provider-keys", "add", "--key", prefix, "--provider", "openai", input="sk-test-openai-cli-0123\n")
    for url in replicas.urls:
        wait_until(lambda url=url: has_provider(url, raw, "openai"))
    listed = replicas.cli("keys", "list")
    assert prefix in listed and "active" in listed.split(prefix)[1].splitlines()[0]
    # the CLI wrote to ClickHouse (the key only as its hash), not to a key file of its own
    rows = replicas.store.query("SELECT key_hash FROM spanlens.api_keys FINAL WHERE key_prefix = %(p)s",
                                {"p": prefix})
    assert [r["key_hash"] for r in rows] == [hash_key(raw)]
    assert not (Path(replicas.env["SPANLENS_DATA_DIR"]) / "keystore.db").exists()


def test_a_revoked_key_fails_on_both_within_the_refresh_interval(replicas):
    raw = replicas.new_key(f"rep-{uuid.uuid4().hex[:8]}")
    for url in replicas.urls:
        wait_until(lambda url=url: otlp_status(url, raw) == 200)
    prefix = raw[: len("sl_live_") + 8]
    replicas.cli("keys", "revoke", prefix)
    t0 = time.monotonic()
    for url in replicas.urls:
        wait_until(lambda url=url: otlp_status(url, raw) == 401)
    print(f"revoked key refused on both after {time.monotonic() - t0:.2f}s (refresh interval {REFRESH_S}s)")
    assert all(otlp_status(url, raw) == 401 for url in replicas.urls)


def test_a_limit_of_20_per_10s_admits_exactly_20_across_both(replicas):
    raw = replicas.new_key(f"rep-{uuid.uuid4().hex[:8]}", provider=True)
    headers = {"authorization": f"Bearer {raw}"}

    for url in replicas.urls:
        wait_until(lambda url=url: has_provider(url, raw, "openai"))
    n = 30
    clients = [httpx.Client(base_url=replicas.urls[i % 2], headers=headers, timeout=30) for i in range(n)]
    for c in clients:  # open every connection before the burst
        c.get("/health")
    barrier, results = threading.Barrier(n), [None] * n

    def call(i: int) -> None:
        barrier.wait()
        r = clients[i].post("/proxy/openai/v1/chat/completions", json=CHAT)
        results[i] = (r.status_code, r.json())

    threads = [threading.Thread(target=call, args=(i,)) for i in range(n)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    print(f"{n} proxied calls over two replicas in {time.monotonic() - t0:.2f}s")
    for c in clients:
        c.close()
    statuses = [r[0] for r in results]
    assert statuses.count(200) == LIMIT, statuses
    assert statuses.count(429) == n - LIMIT, statuses
    denied = next(body for status, body in results if status == 429)
    assert denied["error"]["code"] == "RATE_LIMIT"
    assert denied["error"]["details"]["source"] == "customer_limit"
    assert denied["error"]["details"]["limit"] == LIMIT
    # both replicas admitted some: the limit was counted across them, not per process
    admitted = {replicas.urls[i % 2] for i, r in enumerate(results) if r[0] == 200}
    assert admitted == set(replicas.urls)


def test_spans_sent_to_both_replicas_are_stored_once(replicas):
    raw = replicas.new_key(f"rep-{uuid.uuid4().hex[:8]}")
    for url in replicas.urls:
        wait_until(lambda url=url: otlp_status(url, raw) == 200)
    client = clickhouse_connect.get_client(host="127.0.0.1", port=int(replicas.ch_url.rsplit(":", 1)[1]))
    client.command("SYSTEM STOP MERGES spanlens.spans")  # so the raw row count shows both writes
    try:
        trace = os.urandom(16)
        body = pb_request([pb_span(trace) for _ in range(5)])
        assert [otlp_status(url, raw, body) for url in replicas.urls] == [200, 200]

        def count(final: str) -> int:
            return client.query(f"SELECT count() FROM spanlens.spans {final} WHERE trace_id = %(t)s",
                                {"t": trace.hex()}).result_rows[0][0]

        wait_until(lambda: count("") == 10)  # both replicas wrote the batch…
        assert count("FINAL") == 5  # …and it is stored once
    finally:
        client.command("SYSTEM START MERGES spanlens.spans")
