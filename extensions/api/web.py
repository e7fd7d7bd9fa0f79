"""The built-in web page: static files shipped in ``static/``, served at ``/`` and ``/ui/*``.

The page signs in with a Spanlens key kept in the browser tab (sessionStorage) and reads
the ``/api/v1`` routes with it; nothing here authenticates. Every answer carries a strict
Content-Security-Policy (scripts, styles and data from this origin only), ``nosniff`` and
an ETag with ``Cache-Control: no-cache``, so a new release is picked up on the next load.
"""
from __future__ import annotations

import hashlib
from importlib import resources

from starlette.requests import Request
from starlette.responses import Response

from spanlens_pipeline.errors import NotFound

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def _load() -> dict[str, tuple[bytes, str, str]]:
    """Every shipped file by name: body, content type, ETag."""
    out: dict[str, tuple[bytes, str, str]] = {}
    for entry in resources.files(__package__).joinpath("static").iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if entry.is_file() and suffix in TYPES:
            body = entry.read_bytes()
            out[entry.name] = (body, TYPES[suffix], '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
    return out


class WebPage:
    """Route handlers for the page; files are read once, at start."""

    def __init__(self) -> None:
        self.files = _load()

    def _serve(self, request: Request, name: str) -> Response:
        found = self.files.get(name)
        if found is None:
            raise NotFound("No such file")
        body, media_type, etag = found
        headers = {**SECURITY_HEADERS, "ETag": etag, "Cache-Control": "no-cache"}
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type=media_type, headers=headers)

    async def index(self, request: Request) -> Response:
        return self._serve(request, "index.html")

    async def asset(self, request: Request) -> Response:
        return self._serve(request, request.path_params["name"])
