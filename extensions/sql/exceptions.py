"""ClickHouse-style errors: a numeric code, a name and the HTTP status a server would answer with."""
from __future__ import annotations

import re

# code → (name, HTTP status), for the codes this extension raises or maps itself.
CODES: dict[int, tuple[str, int]] = {
    36: ("BAD_ARGUMENTS", 400),
    47: ("UNKNOWN_IDENTIFIER", 404),
    48: ("NOT_IMPLEMENTED", 501),
    60: ("UNKNOWN_TABLE", 404),
    62: ("SYNTAX_ERROR", 400),
    73: ("UNKNOWN_FORMAT", 400),
    81: ("UNKNOWN_DATABASE", 404),
    115: ("UNKNOWN_SETTING", 400),
    159: ("TIMEOUT_EXCEEDED", 500),
    164: ("READONLY", 403),
    202: ("TOO_MANY_SIMULTANEOUS_QUERIES", 503),
    241: ("MEMORY_LIMIT_EXCEEDED", 500),
    396: ("TOO_MANY_ROWS_OR_BYTES", 500),
    456: ("UNKNOWN_QUERY_PARAMETER", 400),
    497: ("ACCESS_DENIED", 403),
    516: ("AUTHENTICATION_FAILED", 401),
    1000: ("POCO_EXCEPTION", 500),
}
# Engine codes that are the client's fault (bad query) rather than the server's.
_CLIENT_CODES = {6, 26, 27, 36, 38, 41, 43, 44, 46, 47, 53, 60, 62, 70, 73, 81, 115, 164, 184, 215, 352, 386,
                 456, 457, 497}
_CODE_RE = re.compile(r"Code: (\d+)\.")
_NAME_RE = re.compile(r"\(([A-Z][A-Z0-9_]+)\)(?: \(version [^)]*\))?\.?\s*$")


class ClickHouseException(Exception):
    """An error answered as ``Code: N. DB::Exception: message. (NAME)`` with ``X-ClickHouse-Exception-Code``."""

    def __init__(self, code: int, message: str, name: str | None = None, status: int | None = None) -> None:
        known_name, known_status = CODES.get(code, ("", 400 if code in _CLIENT_CODES else 500))
        self.code = code
        self.name = name or known_name or "UNKNOWN_EXCEPTION"
        self.status = status or known_status
        self.message = message
        super().__init__(message)

    def text(self) -> str:
        return f"Code: {self.code}. DB::Exception: {self.message}. ({self.name})\n"


class EngineException(ClickHouseException):
    """An error the engine raised; its text is kept as the engine wrote it."""

    def __init__(self, raw: str) -> None:
        text = raw.strip()
        idx = text.find("Code: ")
        text = text[idx:] if idx > 0 else text
        match = _CODE_RE.match(text)
        code = int(match.group(1)) if match else 1000
        name = _NAME_RE.search(text)
        super().__init__(code, text, name.group(1) if name else None)
        self.raw = text

    def text(self) -> str:
        return self.raw + "\n" if self.raw.startswith("Code: ") else super().text()


def readonly(message: str) -> ClickHouseException:
    return ClickHouseException(164, message)


def access_denied(message: str) -> ClickHouseException:
    return ClickHouseException(497, message)


def syntax(message: str) -> ClickHouseException:
    return ClickHouseException(62, message)
