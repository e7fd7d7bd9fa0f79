"""Proxy receiver: ``/proxy/<provider>/…`` forwarded to ten LLM providers, every call logged."""
from spanlens_pipeline.component import Factory, Kind

from . import cli
from .config import Config
from .receiver import ProxyReceiver

factory = Factory(type="proxy", kind=Kind.RECEIVER, config=Config, create=ProxyReceiver, commands=cli.register)
