"""What several commands share: the --config option and opening the stores it names."""
from __future__ import annotations

import argparse
import datetime
import os

from spanlens_pipeline import config as config_mod
from spanlens_pipeline.component import Kind
from spanlens_pipeline.errors import ConfigError

DEFAULT_CONFIG = os.path.join("config", "default.yaml")


class CommandError(Exception):
    """A command that cannot do what was asked: ``main`` prints ``error: <message>`` and exits 1."""


def utc_text(timestamp: float) -> str:
    """A Unix time as ``YYYY-MM-DD HH:MM:SS`` (UTC), for listings."""
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=DEFAULT_CONFIG, metavar="FILE",
                        help=f"the pipeline config (default: {DEFAULT_CONFIG})")


def load_config(args: argparse.Namespace) -> config_mod.Config:
    return config_mod.load(args.config)


def keystore(cfg: config_mod.Config):
    """Open the key store of the config's keystore extension."""
    from spanlens_pipeline.extensions.keystore import KeyStore

    for c in cfg.of_kind(Kind.EXTENSION):
        if c.factory.type == "keystore":
            return KeyStore(c.config.path)
    raise ConfigError("extensions", "no keystore extension is configured")


def clickhouse_exporter(cfg: config_mod.Config):
    """The first clickhouse exporter of the config, built but not started."""
    from spanlens_pipeline.component import Settings
    import logging

    for c in cfg.of_kind(Kind.EXPORTER):
        if c.factory.type == "clickhouse":
            return c.factory.create(Settings(c.id, logging.getLogger(c.id)), c.config)
    raise ConfigError("exporters", "no clickhouse exporter is configured")
