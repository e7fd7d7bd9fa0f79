"""Truncation processor: oversized bodies become a preview, API keys in bodies are masked.

Applies to span ``input``/``output``/``status_message`` and to request rows'
``request_body``/``response_body``/``error_message``. A body over ``max_body_size``
bytes (UTF-8) is replaced by a JSON envelope ``{"_truncated": true,
"_original_size_bytes", "_preview", "_note"}`` and the record is flagged
(``input_truncated``/``output_truncated`` on spans, ``request_body_truncated``/
``response_body_truncated`` in a request row's ``flags``). Masking runs after
truncation, so previews are masked too.
"""
from __future__ import annotations

import re
from typing import Any

import orjson

from spanlens_pipeline.bulksql import SqlStep, json_string, lit, push_flag
from spanlens_pipeline.component import Factory, Kind, Processor, Settings
from spanlens_pipeline.model import Batch, RequestContext

from .config import Config

# Key shapes, longest prefix first; the prefix is kept, the secret part becomes ***.
_KEY_RE = re.compile(r"(sl_live_|sk-ant-|sk-proj-|sk-|AIza)[A-Za-z0-9_\-]{12,}")
_KEY_HINTS = ("sl_live_", "sk-", "AIza")
NOTE = "body larger than the storage limit; only a preview is kept"


def mask_keys(text: str) -> str:
    """``text`` with API keys (sk-…, sk-ant-…, sk-proj-…, AIza…, sl_live_…) masked."""
    if not any(h in text for h in _KEY_HINTS):
        return text
    return _KEY_RE.sub(r"\1***", text)


def _mask_sql(column: str) -> str:
    """``mask_keys`` of ``column`` as SQL (the same pattern, through RE2)."""
    hint = " OR ".join(f"position({column}, {lit(h)}) > 0" for h in _KEY_HINTS)
    return f"if({hint}, replaceRegexpAll({column}, {lit(_KEY_RE.pattern)}, {lit(chr(92) + '1***')}), {column})"


class TruncationProcessor(Processor):
    config: Config

    def __init__(self, settings: Settings, config: Config) -> None:
        super().__init__(settings, config)
        self.limit = config.max_body_size

    def cut(self, text: Any) -> tuple[Any, bool]:
        """The body, or its preview envelope when over the limit; and whether it was cut."""
        if not isinstance(text, str) or len(text) * 4 <= self.limit:
            return text, False
        size = len(text.encode("utf-8", "replace"))
        if size <= self.limit:
            return text, False
        envelope = {"_truncated": True, "_original_size_bytes": size,
                    "_preview": text[: self.config.preview_chars], "_note": NOTE}
        return orjson.dumps(envelope).decode(), True

    def clean(self, text: Any) -> Any:
        return mask_keys(text) if self.config.mask_api_keys and isinstance(text, str) else text

    def bulk_sql(self) -> SqlStep:
        """Bulk path: the same cut and masking of span ``input``/``output``/``status_message``."""
        limit, preview = self.limit, self.config.preview_chars
        over_: dict[str, str] = {}
        cut: dict[str, str] = {}
        for name in ("input", "output"):
            over = f"({name} IS NOT NULL AND lengthUTF8({name}) * 4 > {limit} AND length({name}) > {limit})"
            envelope = (f"concat('{{\"_truncated\":true,\"_original_size_bytes\":', toString(length({name})), "
                        f"',\"_preview\":', {json_string(f'leftUTF8({name}, {preview})')}, "
                        f"',\"_note\":', {lit(orjson.dumps(NOTE).decode())}, '}}')")
            cut[name] = f"if(_cut_{name}, {envelope}, {name})"
            over_[f"_cut_{name}"] = over
        flags = "flags"
        for name in ("input", "output"):
            flags = f"if(_cut_{name}, {push_flag(flags, f'{name}_truncated')}, {flags})"
        cut["flags"] = flags
        masked: dict[str, str] = {}
        if self.config.mask_api_keys:
            for name in ("input", "output", "status_message"):
                masked[name] = _mask_sql(name)
        return SqlStep((over_, cut, masked) if masked else (over_, cut))

    async def process(self, batch: Batch, ctx: RequestContext) -> Batch:
        for span in batch.spans:
            for name in ("input", "output"):
                value, cut = self.cut(getattr(span, name))
                if cut:
                    span.flag(f"{name}_truncated")
                setattr(span, name, self.clean(value))
            span.status_message = self.clean(span.status_message)
        for row in batch.requests:
            for name in ("request_body", "response_body"):
                value, cut = self.cut(getattr(row, name))
                if cut:
                    row.flag(f"{name}_truncated")
                setattr(row, name, self.clean(value))
            row.error_message = self.clean(row.error_message)
        return batch


factory = Factory(type="truncation", kind=Kind.PROCESSOR, config=Config, create=TruncationProcessor)
