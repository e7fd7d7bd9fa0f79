"""The extension's testdata configs: the valid one loads with its values, the bad one names its fault."""
from __future__ import annotations

from pathlib import Path

import pytest

from spanlens_pipeline import config as config_mod
from spanlens_pipeline.component import Kind
from spanlens_pipeline.errors import ConfigError

TESTDATA = Path(__file__).resolve().parents[2] / "extensions" / "sql" / "testdata"


def test_valid_config_loads():
    cfg = config_mod.load(TESTDATA / "config.yaml")
    sql = cfg.get(Kind.EXTENSION, "sql").config
    assert (sql.endpoint, sql.username, sql.password) == ("127.0.0.1:8123", "analyst", "")
    assert sql.max_execution_time == 10 and sql.max_memory_usage == 512 * 1024**2
    assert sql.max_result_rows == 100000 and sql.storage == "storage"


def test_bad_config_is_refused_with_its_path():
    with pytest.raises(ConfigError) as info:
        config_mod.load(TESTDATA / "config_bad.yaml")
    assert "extensions::sql::max_execution_time" in str(info.value)


def test_default_config_enables_the_sql_extension():
    cfg = config_mod.load(Path(__file__).resolve().parents[2] / "config" / "default.yaml")
    assert "sql" in cfg.extensions
    assert cfg.get(Kind.EXTENSION, "sql").config.endpoint == "localhost:8123"
