
"""Provider keys: the ciphertext layout, the CLI (secret from stdin, never echoed), key-info."""
from __future__ import annotations

import base64
import os

import httpx
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from spanlens_pipeline.extensions.keystore import crypto

from ..support.running import run_cli
from .conftest import ENCRYPTION_KEY, request_row

KEY = crypto.parse_key(ENCRYPTION_KEY)


def test_layout_is_nonce_tag_ciphertext():
    nonce = os.urandom(12)
    sealed = AESGCM(KEY).encrypt(nonce, b"sk-original-service", None)  # ciphertext | tag
    exported = base64.b64encode(nonce + sealed[-16:] + sealed[:-16]).decode()
    assert crypto.decrypt(KEY, exported) == "sk-original-service"
    raw = base64.b64decode(crypto.encrypt(KEY, "  sk-mine  "))
    assert AESGCM(KEY).decrypt(raw[:12], raw[28:] + raw[12:28], None) == b"sk-mine"


def test_decrypt_failures_are_errors_never_empty():
    token = crypto.encrypt(KEY, "sk-x")
    for key, value in ((bytes(32), token), (KEY, token[:-4] + "AAAA"), (KEY, "***"), (KEY, "AAAA"), (None, token)):
        try:
            crypto.decrypt(key, value)
        except crypto.DecryptError:
            continue
        raise AssertionError(f"decrypt({value!r}) did not fail")


@pytest.mark.slow
def test_cli_add_list_revoke(proxy, project, stub, store, tmp_path, encryption_key):
    config = tmp_path / "cli.yaml"
    config.write_text(f"""
extensions:
  keystore: {{path: {proxy.keystore_path}}}
receivers:
  otlp: {{endpoint: 127.0.0.1:1}}
exporters:
  nop:
service:
  extensions: [keystore]
  pipelines:
    traces: {{receivers: [otlp], exporters: [nop]}}
""")
    raw = proxy.new_key(project)
    prefix = raw[:16]
    secret = "sk-cli-secret-0123456789abcdef"
    env = {crypto.ENV_VAR: ENCRYPTION_KEY}
    add = run_cli("provider-keys", "add", "--key", prefix, "--provider", "openai", config=str(config), env=env,
                  input=secret + "\n")
    assert add.returncode == 0, add.stderr
    assert secret not in add.stdout + add.stderr
    azure = run_cli("provider-keys", "add", "--key", raw, "--provider", "azure", config=str(config), env=env,
                    input="az-secret\n")
    assert azure.returncode == 1 and "resource URL" in azure.stderr
    listed = run_cli("provider-keys", "list", "--key", prefix, config=str(config))
    assert "openai" in listed.stdout and "active" in listed.stdout and secret not in listed.stdout

    with httpx.Client(timeout=30) as c:
        info = c.get(f"{proxy.url}/api/v1/me/key-info", headers={"authorization": f"Bearer {raw}"}).json()
        assert info["data"]["providers"] == ["openai"] and info["data"]["projectName"] == project
        assert info["data"]["scope"] == "full"
        r = c.post(f"{proxy.url}/proxy/openai/v1/chat/completions", headers={"authorization": f"Bearer {raw}"},
                   json={"model": "gpt-4o", "messages": []})
    assert r.status_code == 200 and stub.requests[-1].headers["authorization"] == f"Bearer {secret}"
    assert secret not in str(request_row(store, r.headers["x-request-id"]))

    revoke = run_cli("provider-keys", "revoke", "--key", prefix, "--provider", "openai", config=str(config))
    assert revoke.returncode == 0, revoke.stderr
    with httpx.Client(timeout=30) as c:
        r = c.post(f"{proxy.url}/proxy/openai/v1/chat/completions", headers={"authorization": f"Bearer {raw}"},
                   json={"model": "gpt-4o", "messages": []})
    assert r.status_code == 400 and r.json()["error"]["code"] == "NO_PROVIDER_KEY"

