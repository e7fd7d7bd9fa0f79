"""Every failure answers its typed error in the envelope; nothing reaches upstream before auth and decryption."""
from __future__ import annotations

import httpx
import pytest

from spanlens_pipeline.extensions.keystore import crypto

from ..support.running import free_port, start_service
from .conftest import add_provider_key, proxy_yaml, request_row

STRICT = """    upstream_timeout: 300ms
    stream_deadline: 1s
    max_request_body_size: 64KiB
    ratelimit: ratelimit
"""
RATELIMIT = """  ratelimit:
    storage: ""
    limits:
      - {scope: end_user, end_user: limited-user, requests: 1, window: 60s}
"""
CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def strict(tmp_path_factory, chdb_path, stub, encryption_key):
    """Short timeouts, a small body limit, a rate limiter, and xai pointed at a closed port."""
    yaml = proxy_yaml(stub, STRICT, bases={"xai": f"http://127.0.0.1:{free_port()}"}, extensions=RATELIMIT)
    rs = start_service(yaml, tmp_path_factory.mktemp("strict"), chdb_path)
    yield rs
    rs.stop()


@pytest.fixture
def skey(strict, project):
    raw = strict.new_key(project)
    for name in ("openai", "xai"):
        add_provider_key(strict, raw, name)
    return raw


def _post(rs, key, path="openai/v1/chat/completions", **kw):
    headers = {"authorization": f"Bearer {key}", **kw.pop("headers", {})}
    with httpx.Client(timeout=30) as c:
        return c.post(f"{rs.url}/proxy/{path}", headers=headers, **kw)


def _error(r: httpx.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code and err["requestId"] == r.headers["x-request-id"]
    return err


def test_auth_errors_come_first(strict, skey, stub):
    before = len(stub.requests)
    _error(_post(strict, "sl_live_" + "0" * 48, json=CHAT), 401, "UNAUTHORIZED")
    public = strict.new_key("public-proj", public=True)
    err = _error(_post(strict, public, json=CHAT), 403, "PUBLIC_KEY_WRITE_FORBIDDEN")
    assert err["details"] == {"scope": "public"}
    assert len(stub.requests) == before


def test_no_provider_key(strict, skey, stub):
    before = len(stub.requests)
    err = _error(_post(strict, skey, "anthropic/v1/messages", json=CHAT), 400, "NO_PROVIDER_KEY")
    assert err["details"] == {"provider": "anthropic"}
    assert len(stub.requests) == before


def test_wrong_encryption_key_is_503_and_nothing_is_sent(strict, project, stub):
    raw = strict.new_key(project)
    add_provider_key(strict, raw, "openai", key=bytes(32))  # encrypted under another key
    before = len(stub.requests)
    err = _error(_post(strict, raw, json=CHAT), 503, "DECRYPT_FAILED")
    assert err["details"] == {"provider": "openai"}
    assert len(stub.requests) == before


def test_unreachable_upstream_is_502(strict, skey):
    err = _error(_post(strict, skey, "xai/v1/chat/completions", json=CHAT), 502, "UPSTREAM_FAILED")
    assert err["details"] == {"provider": "xai"}


def test_slow_headers_are_504(strict, skey):
    r = _post(strict, skey, json=CHAT, headers={"x-stub-header-delay-ms": "3000"})
    err = _error(r, 504, "UPSTREAM_TIMEOUT")
    assert err["details"] == {"provider": "openai", "timeoutMs": 300}


def test_stream_cut_at_deadline_is_logged_truncated(strict, skey, store):
    r = _post(strict, skey, json=dict(CHAT, stream=True),
              headers={"x-stub-gap-ms": "400", "x-stub-chunks": "8"})
    assert r.status_code == 200 and "data:" in r.text and "[DONE]" not in r.text
    row = request_row(store, r.headers["x-request-id"])
    assert row["truncated"] and row["streamed"] and row["prompt_tokens"] is None and row["cost_usd"] is None


def test_bad_input_is_a_clear_4xx(strict, skey, stub):
    before = len(stub.requests)
    _error(_post(strict, skey, content=b"{not json", headers={"content-type": "application/json"}),
           400, "INVALID_JSON_BODY")
    _error(_post(strict, skey, json={"model": "x", "input": "a" * 70_000}), 413, "PAYLOAD_TOO_LARGE")
    err = _error(_post(strict, skey, "nope/v1/chat/completions", json=CHAT), 404, "NOT_FOUND")
    assert err["details"]["provider"] == "nope"
    assert len(stub.requests) == before
    # A body that is not declared JSON is forwarded as is.
    r = _post(strict, skey, "openai/v1/audio/transcriptions", content=b"\x00raw bytes",
              headers={"content-type": "application/octet-stream"})
    assert r.status_code == 200 and stub.requests[-1].body == b"\x00raw bytes"


def test_rate_limit_hook(strict, skey, stub):
    ok = _post(strict, skey, json=CHAT, headers={"x-spanlens-user": "limited-user"})
    assert ok.status_code == 200 and "x-ratelimit-limit" in ok.headers
    before = len(stub.requests)
    err = _error(_post(strict, skey, json=CHAT, headers={"x-spanlens-user": "limited-user"}), 429, "RATE_LIMIT")
    assert err["details"]["source"] == "customer_limit"
    assert len(stub.requests) == before


def test_malformed_encryption_key_refuses_start(tmp_path, chdb_path, stub, monkeypatch):
    monkeypatch.setenv(crypto.ENV_VAR, "not-base64-and-not-32-bytes")
    with pytest.raises(Exception, match="ENCRYPTION_KEY"):
        start_service(proxy_yaml(stub), tmp_path, chdb_path)
