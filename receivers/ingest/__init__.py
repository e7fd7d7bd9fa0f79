"""Native ingest receiver: the ``/ingest/*`` API of the Spanlens SDKs."""
from spanlens_pipeline.component import Factory, Kind

from .config import Config
from .receiver import IngestReceiver

factory = Factory(type="ingest", kind=Kind.RECEIVER, config=Config, create=IngestReceiver)
