"""ClickHouse exporter: spans and request logs into ClickHouse (embedded chdb or a server)."""
from spanlens_pipeline.component import Factory, Kind

from .config import Config
from .exporter import ClickHouseExporter

factory = Factory(type="clickhouse", kind=Kind.EXPORTER, config=Config, create=ClickHouseExporter)
