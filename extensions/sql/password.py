"""The sql endpoint's password: from the config, else generated once into a 0600 file."""
from __future__ import annotations

import os
import secrets


def read(path: str) -> str | None:
    """The password kept in ``path``, or None if there is no such file."""
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().strip() or None
    except FileNotFoundError:
        return None


def ensure(path: str) -> tuple[str, bool]:
    """The password in ``path``, creating the file (mode 0600) with a new one if needed; and whether it is new."""
    existing = read(path)
    if existing:
        return existing, False
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    password = secrets.token_urlsafe(24)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(password + "\n")
    os.chmod(path, 0o600)
    return password, True
