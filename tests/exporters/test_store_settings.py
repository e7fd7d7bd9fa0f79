"""The storage extension's ``settings`` reach the embedded store too (e.g. ``optimize_on_insert``)."""
from __future__ import annotations

from spanlens_pipeline.extensions.storage import Store


def test_embedded_store_applies_configured_settings(chdb_path, store):
    tuned = Store(f"chdb://{chdb_path}", settings={"optimize_on_insert": "0", "max_threads": "3"})
    rows = tuned.query("SELECT getSetting('optimize_on_insert') AS o, getSetting('max_threads') AS t")
    assert (str(rows[0]["o"]).lower() in ("0", "false"), int(rows[0]["t"])) == (True, 3)
    plain = store.query("SELECT getSetting('optimize_on_insert') AS o")
    assert str(plain[0]["o"]).lower() in ("1", "true")  # other clients keep the defaults


def test_per_statement_settings(store):
    rows = store.query("SELECT getSetting('max_threads') AS t", settings={"max_threads": 2})
    assert int(rows[0]["t"]) == 2
