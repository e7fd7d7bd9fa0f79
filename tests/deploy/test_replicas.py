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


def burst(urls: list[str], raw: str, n: int) -> list[tuple[str, int, dict]]:
    """``n`` simultaneous proxied calls split across ``urls``: (url, status, body) of each."""
    clients = [httpx.Client(base_url=urls[i % len(urls)], headers={"authorization": f"Bearer {raw}"}, timeout=30)
               for i in range(n)]
    for c in clients:  # open every connection before the burst
        c.get("/health")
    barrier, results = threading.Barrier(n), [None] * n

    def call(i: int) -> None:
        barrier.wait()
        r = clients[i].post("/proxy/openai/v1/chat/completions", json=CHAT)
        results[i] = (urls[i % len(urls)], r.status_code, r.json())

    threads = [threading.Thread(target=call, args=(i,)) for i in range(n)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    print(f"{n} proxied calls over {len(urls)} replicas in {time.monotonic() - t0:.2f}s")
    for c in clients:
        c.close()
    assert all(results), "a call did not finish"
    return results  # type: ignore[return-value]


def test_a_limit_of_20_per_10s_admits_exactly_20_across_both(replicas):
    raw = replicas.new_key(f"rep-{uuid.uuid4().hex[:8]}", provider=True)
    for url in replicas.urls:
        wait_until(lambda url=url: has_provider(url, raw, "openai"))
    n = 30
    results = burst(replicas.urls, raw, n)
    statuses = [r[1] for r in results]
    assert statuses.count(200) == LIMIT, statuses
    assert statuses.count(429) == n - LIMIT, statuses
    denied = next(body for _, status, body in results if status == 429)
    assert denied["error"]["code"] == "RATE_LIMIT"
    assert denied["error"]["details"]["source"] == "customer_limit"
    assert denied["error"]["details"]["limit"] == LIMIT
    # both replicas admitted some: the limit was counted across them, not per process
    assert {url for url, status, _ in results if status == 200} == set(replicas.urls)


def proxied_limit(url: str, raw: str) -> str | None:
    """``X-RateLimit-Limit`` of one admitted proxied call (None when it was refused)."""
    r = httpx.post(url + "/proxy/openai/v1/chat/completions", json=CHAT, timeout=30,
                   headers={"authorization": f"Bearer {raw}"})
    return r.headers["X-RateLimit-Limit"] if r.status_code == 200 else None


def test_a_limit_set_once_by_the_cli_holds_on_both_and_so_does_its_removal(replicas):
    project = f"rep-{uuid.uuid4().hex[:8]}"
    raw = replicas.new_key(project, provider=True)
    prefix = raw[: len("sl_live_") + 8]
    for url in replicas.urls:
        wait_until(lambda url=url: has_provider(url, raw, "openai"))
    done = run_cli("limits", "set", "--key", prefix, "--scope", "api_key", "--limit", "5", "--window", "60",
                   config=str(replicas.config), env=replicas.env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"set api_key limit for key {prefix}: 5 requests per 60s"
    assert "note" not in done.stderr  # nothing is kept per data directory any more
    # A key created after the limit: once a replica accepts it, it has re-read the limit too
    # (one reload reads the key tables, then rate_limits).
    sentinel = replicas.cli("keys", "create", "--project", project).strip().splitlines()[-1]
    for url in replicas.urls:
        wait_until(lambda url=url: otlp_status(url, sentinel) == 200)
    listed = [line.split() for line in replicas.cli("limits", "list").splitlines() if prefix in line]
    assert listed == [["cli", "api_key", prefix, project, "5/60s"]]  # the key prefix column is filled

    n = 12
    results = burst(replicas.urls, raw, n)
    statuses = [r[1] for r in results]
    assert statuses.count(200) == 5 and statuses.count(429) == n - 5, statuses
    # each replica got 6 calls, more than 5: each refused some, with the CLI's limit (the config's is 20)
    refused = {url for url, status, body in results if status == 429
               and body["error"]["details"] == {"source": "customer_limit", "scope": "api_key", "limit": 5,
                                                "window_seconds": 60}}
    assert refused == set(replicas.urls)

    assert replicas.cli("limits", "clear", "--key", prefix).strip() == "cleared 1 limit"
    t0 = time.monotonic()
    for url in replicas.urls:  # the config's 20 per 10 s applies again on both
        wait_until(lambda url=url: proxied_limit(url, raw) == str(LIMIT))
    print(f"removed limit gone on both after {time.monotonic() - t0:.2f}s (refresh interval {REFRESH_S}s)")
    assert [r["removed"] for r in replicas.store.query(
        "SELECT removed FROM spanlens.rate_limits WHERE api_key_id = %(k)s ORDER BY version",
        {"k": replicas.keys.find_key(prefix).id})] == [0, 1]  # the removal is a newer row
    assert not [line for line in replicas.cli("limits", "list").splitlines() if prefix in line]
    assert not (Path(replicas.env["SPANLENS_DATA_DIR"]) / "keystore.db").exists()


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
