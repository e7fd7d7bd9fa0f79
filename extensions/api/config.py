"""Settings of the api extension: where the read API and the web page are served, and the
extensions they read through."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Config:
    endpoint: str = "localhost:4318"
    keystore: str = "keystore"  # id of the keystore extension
    storage: str = "storage"  # id of the storage extension that is read
    web_page: bool = True  # serve the built-in web page at / and /ui/*
