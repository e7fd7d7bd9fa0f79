"""The storage extension's ``ttl`` setting becomes each table's TTL at start; 0 removes it."""
from __future__ import annotations

import pytest

from spanlens_pipeline import config as config_mod
from spanlens_pipeline.errors import ConfigError

from ..conftest import BASE_CONFIG


def _ttl(store, table: str) -> str:
    return store.query("SELECT create_table_query AS q FROM system.tables WHERE database = 'spanlens' "
                       "AND name = %(t)s", {"t": table})[0]["q"]


def test_ttl_applied_at_start_and_removed_with_zero(service_factory, store):
    yaml = BASE_CONFIG.replace("    endpoint: chdb://{chdb}\n", "    endpoint: chdb://{chdb}\n    ttl: {TTL}\n")
    service_factory(yaml.replace("{TTL}", "{requests: 90d, llm_calls: 12h}")).stop()
    assert "TTL toDateTime(created_at) + toIntervalSecond(7776000)" in _ttl(store, "requests")
    assert "TTL hour + toIntervalSecond(43200)" in _ttl(store, "llm_calls")
    service_factory(yaml.replace("{TTL}", "{requests: 0, llm_calls: 0}")).stop()
    assert "TTL" not in _ttl(store, "requests") and "TTL" not in _ttl(store, "llm_calls")


@pytest.mark.parametrize("ttl", ["{spans: soon}", "{nosuch: 1d}", "{spans: -1}", "{spans: 90x}"])
def test_bad_ttl_is_a_config_error(ttl):
    text = BASE_CONFIG.replace("    endpoint: chdb://{chdb}\n", f"    endpoint: chdb://x\n    ttl: {ttl}\n")
    with pytest.raises(ConfigError):
        config_mod.parse(text.replace("{port}", "1").replace("{data}", "/tmp/x"), source="test")
