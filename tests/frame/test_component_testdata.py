"""Every component folder ships testdata/config.yaml (a valid service using it) and
testdata/config_bad.yaml (deliberately wrong): the real loader accepts the one and rejects
the other at the YAML path its ``# error-path:`` line names."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from spanlens_pipeline import config as config_mod
from spanlens_pipeline.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
KINDS = ("receivers", "processors", "exporters", "extensions")
# The api extension's settings still live in its __init__.py (the folder is being edited elsewhere).
INLINE_CONFIG = {"extensions/api"}
COMPONENTS = sorted(p.parent for kind in KINDS for p in (ROOT / kind).glob("*/__init__.py"))


def _id(folder: Path) -> str:
    return f"{folder.parent.name}/{folder.name}"


def test_every_component_folder_is_found():
    assert {_id(c) for c in COMPONENTS} >= {
        "receivers/otlp", "receivers/ingest", "receivers/proxy", "processors/auth", "processors/genai",
        "processors/cost", "processors/parent_link", "processors/truncation", "processors/memory_limiter",
        "exporters/clickhouse", "exporters/debug", "exporters/nop", "extensions/storage", "extensions/keystore",
        "extensions/ratelimit", "extensions/api"}


@pytest.mark.parametrize("folder", COMPONENTS, ids=_id)
def test_component_has_one_shape(folder: Path):
    names = ["__init__.py", "README.md", "testdata/config.yaml", "testdata/config_bad.yaml"]
    if _id(folder) not in INLINE_CONFIG:
        names.append("config.py")
    for name in names:
        assert (folder / name).is_file(), f"{_id(folder)} has no {name}"


@pytest.mark.parametrize("folder", COMPONENTS, ids=_id)
def test_valid_testdata_loads(folder: Path):
    path = folder / "testdata" / "config.yaml"
    cfg = config_mod.load(path)
    kind = {k.section: k for k in config_mod.Kind}[folder.parent.name]
    assert folder.name in {c.factory.type for c in cfg.of_kind(kind)}


@pytest.mark.parametrize("folder", COMPONENTS, ids=_id)
def test_bad_testdata_fails_at_its_path(folder: Path):
    path = folder / "testdata" / "config_bad.yaml"
    expected = re.search(r"^# error-path: (\S+)$", path.read_text(), re.M)
    assert expected, f"{path} names no '# error-path:'"
    with pytest.raises(ConfigError) as err:
        config_mod.load(path)
    assert err.value.path == expected.group(1), str(err.value)
