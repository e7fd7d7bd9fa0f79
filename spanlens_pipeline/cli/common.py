"""What several commands share: the --config option and building a component it names."""
from __future__ import annotations

import argparse
import datetime
import logging
import os
from typing import Any

from spanlens_pipeline import config as config_mod
from spanlens_pipeline.component import Component, Kind, Settings
from spanlens_pipeline.errors import CommandError, ConfigError

__all__ = ["CommandError", "DEFAULT_CONFIG", "add_config_option", "component", "load_config", "utc_text"]

DEFAULT_CONFIG = os.path.join("config", "default.yaml")


def utc_text(timestamp: float) -> str:
    """A Unix time as ``YYYY-MM-DD HH:MM:SS`` (UTC), for listings."""
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=DEFAULT_CONFIG, metavar="FILE",
                        help=f"the pipeline config (default: {DEFAULT_CONFIG})")


def load_config(args: argparse.Namespace) -> config_mod.Config:
    return config_mod.load(args.config)


def component(cfg: config_mod.Config, kind: Kind, type_name: str) -> Any:
    """The first component of ``type_name`` in the config, built but not started."""
    for c in cfg.of_kind(kind):
        if c.factory.type == type_name:
            built: Component = c.factory.create(Settings(c.id, logging.getLogger(f"spanlens_pipeline.cli.{c.id}")),
                                                c.config)
            return built
    raise ConfigError(kind.section, f"no {type_name} {kind.value} is configured")
