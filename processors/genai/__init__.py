"""genai processor: normalises every gen_ai dialect onto the typed span columns (see README.md)."""
from __future__ import annotations

from spanlens_pipeline.bulksql import SqlStep
from spanlens_pipeline.component import Factory, Kind, Processor, Settings
from spanlens_pipeline.model import Batch, RequestContext

from . import bulk
from .config import Config
from .normalise import normalise


class GenaiProcessor(Processor):
    config: Config

    def __init__(self, settings: Settings, config: Config) -> None:
        super().__init__(settings, config)
        self.messages = config.messages

    async def process(self, batch: Batch, ctx: RequestContext) -> Batch:
        messages = self.messages
        for span in batch.spans:
            normalise(span, messages)
        return batch

    def bulk_sql(self) -> SqlStep:
        """Bulk path: the same normalisation as SQL (see ``bulk``)."""
        return bulk.step(self.messages)


factory = Factory(type="genai", kind=Kind.PROCESSOR, config=Config, create=GenaiProcessor)
