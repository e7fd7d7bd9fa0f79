"""Settings of the api extension: where the read API and the web page are served, and the
extensions they read through."""
from __future__ import annotations

from dataclasses import dataclass

from spanlens_pipeline.confschema import Millis


@dataclass
class Config:
    endpoint: str = "localhost:4318"
    keystore: str = "keystore"  # id of the keystore extension
    storage: str = "storage"  # id of the storage extension that is read
    web_page: bool = True  # serve the built-in web page at / and /ui/*
    # Id of the wal extension receivers answer through: a read first waits (at most
    # ``read_after_write_wait``) until what was acknowledged before it is stored.
    wal: str = ""
    read_after_write_wait: Millis = Millis(2000)
