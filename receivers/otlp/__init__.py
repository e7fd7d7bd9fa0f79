"""OTLP/HTTP receiver: ``POST /v1/traces`` (protobuf and JSON, gzip or deflate)."""
from spanlens_pipeline.component import Factory, Kind

from .config import Config
from .receiver import OtlpReceiver

factory = Factory(type="otlp", kind=Kind.RECEIVER, config=Config, create=OtlpReceiver)
