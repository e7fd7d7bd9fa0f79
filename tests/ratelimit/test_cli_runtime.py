"""Runtime limits: ``spanlens-pipeline limits`` (a real subprocess) changes a running service's limits."""
from __future__ import annotations

import pytest

from spanlens_pipeline.cli import main
from spanlens_pipeline.errors import RateLimited
from spanlens_pipeline.extensions.keystore import KeyStore

from ..support.running import run_cli

CONFIG = """
extensions:
  storage:
    endpoint: chdb://{chdb}
  keystore:
    path: {data}/keystore.db
    bootstrap_default_key: false
  ratelimit:
    default_plan: team
    limits:
      - {scope: project, requests: 1000, window: 60s}
receivers:
  otlp:
    endpoint: 127.0.0.1:{port}
processors:
  auth:
exporters:
  clickhouse:
service:
  extensions: [storage, keystore, ratelimit]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [auth]
      exporters: [clickhouse]
"""


@pytest.fixture
def running(service_factory, tmp_path, chdb_path, project):
    rs = service_factory(CONFIG)
    config_file = tmp_path / "config.yaml"
    config_file.write_text(CONFIG.replace("{data}", str(tmp_path)).replace("{chdb}", chdb_path)
                           .replace("{port}", rs.url.rsplit(":", 1)[1]))
    raw = rs.new_key(project)
    ks = KeyStore(rs.keystore_path)
    tenant = ks.authenticate(raw)
    ks.close()
    return rs, str(config_file), raw, tenant


def cli(config: str, *args: str) -> str:
    done = run_cli("limits", *args, config=config)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.slow
def test_limits_set_by_the_cli_apply_without_restart(running):
    rs, config, raw, tenant = running
    limiter = rs.service.extensions["ratelimit"]
    prefix = tenant.key_prefix
    assert limiter.check(tenant)["X-RateLimit-Scope"] == "project"

    out = cli(config, "set", "--key", prefix, "--scope", "api_key", "--limit", "2", "--window", "60")
    assert out.strip() == f"set api_key limit for key {prefix}: 2 requests per 60s"
    assert [limiter.check(tenant)["X-RateLimit-Remaining"] for _ in range(2)] == ["1", "0"]
    with pytest.raises(RateLimited) as info:
        limiter.check(tenant)
    assert info.value.details == {"source": "customer_limit", "scope": "api_key", "limit": 2, "window_seconds": 60}

    # A higher limit, named by the full key, applies at once to the same bucket.
    cli(config, "set", "--key", raw, "--scope", "api_key", "--limit", "5", "--window", "60")
    assert limiter.check(tenant)["X-RateLimit-Remaining"] == "2"  # the two calls made still count

    cli(config, "set", "--key", prefix, "--scope", "end_user", "--end-user", "bob", "--limit", "1", "--window", "30")
    cli(config, "set", "--key", prefix, "--scope", "project", "--limit", "50", "--window", "10")
    listing = cli(config, "list").splitlines()
    assert listing[1].split() == ["config", "project", "*", "*", "1000/60s"]
    rows = sorted(line.split() for line in listing[2:])
    assert rows == sorted([["cli", "api_key", prefix, tenant.project_name, "5/60s"],
                           ["cli", "end_user", prefix, tenant.project_name, "bob", "1/30s"],
                           ["cli", "project", "*", tenant.project_name, "50/10s"]])

    assert cli(config, "clear", "--key", prefix, "--scope", "api_key").strip() == "cleared 1 limit"
    limiter.check(tenant, "bob")
    with pytest.raises(RateLimited) as info:
        limiter.check(tenant, "bob")
    assert info.value.details["scope"] == "end_user" and info.value.headers["Retry-After"] == "30"
    assert limiter.check(tenant, "alice")["X-RateLimit-Limit"] == "50"

    assert cli(config, "clear", "--key", prefix).strip() == "cleared 2 limits"
    assert limiter.check(tenant, "bob")["X-RateLimit-Limit"] == "1000"

    metrics = rs.client().get("/metrics").text
    assert 'spanlens_ratelimit_rejected_total{scope="end_user",source="customer_limit"}' in metrics


def test_cli_refuses_bad_requests_clearly(running, capsys):
    rs, config, raw, tenant = running
    prefix = tenant.key_prefix
    cases = [
        (("set", "--key", "sl_live_nothere0", "--scope", "api_key", "--limit", "1", "--window", "1"),
         "error: no active key matches 'sl_live_nothere0'"),
        (("set", "--key", prefix, "--scope", "api_key", "--end-user", "u", "--limit", "1", "--window", "1"),
         "error: --end-user applies to --scope end_user only"),
        (("set", "--key", prefix, "--scope", "project", "--limit", "0", "--window", "1"),
         "error: --limit and --window must be at least 1"),
        (("set", "--key", prefix, "--scope", "project", "--limit", "4294967296", "--window", "1"),
         "error: --limit and --window must be at most 4294967295"),
        (("clear", "--key", "sl_live_nothere0"), "error: no active key matches"),
    ]
    for args, message in cases:
        assert main(["limits", *args, "--config", config]) == 1
        assert message in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["limits", "set", "--key", prefix, "--scope", "team", "--limit", "1", "--window", "1", "--config", config])
    assert exit_info.value.code == 2 and "invalid choice: 'team'" in capsys.readouterr().err
    assert rs.service.extensions["ratelimit"].check(tenant)["X-RateLimit-Limit"] == "1000"
