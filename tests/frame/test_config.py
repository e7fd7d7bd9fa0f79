"""Config loading: substitution, and errors that name the exact YAML path."""
from __future__ import annotations

import pytest

from spanlens_pipeline.component import Factory, Kind
from spanlens_pipeline.config import parse, substitute_env
from spanlens_pipeline.errors import ConfigError
from spanlens_pipeline.registry import Registry

GOOD = """
extensions:
  keystore: {path: /tmp/k.db}
receivers:
  otlp: {endpoint: "localhost:4318"}
  otlp/second: {endpoint: "localhost:4319", max_request_body_size: 4MiB}
processors:
  auth:
exporters:
  nop:
  debug/loud: {verbosity: detailed}
service:
  extensions: [keystore]
  pipelines:
    traces:
      receivers: [otlp, otlp/second]
      processors: [auth]
      exporters: [nop, debug/loud]
    traces/other:
      receivers: [otlp]
      exporters: [nop]
"""


def test_a_good_config_with_several_pipelines_and_named_ids():
    cfg = parse(GOOD)
    assert [p.id for p in cfg.pipelines] == ["traces", "traces/other"]
    assert cfg.get(Kind.RECEIVER, "otlp/second").config.max_request_body_size == 4 * 1024 * 1024
    assert cfg.get(Kind.EXPORTER, "debug/loud").config.verbosity == "detailed"


def test_env_substitution_with_defaults():
    env = {"A": "x", "EMPTY": ""}
    assert substitute_env("${env:A} ${env:B:-dflt} ${env:EMPTY:-d} ${env:MISSING}|$$", env) == "x dflt  |$"
    with pytest.raises(ConfigError, match="invalid name"):
        substitute_env("${env:1BAD}", env)


@pytest.mark.parametrize("mutate, path, message", [
    (lambda t: t.replace("otlp: {endpoint", "otlp: {endpont"), "receivers::otlp::endpont", "unknown key"),
    (lambda t: t.replace("  nop:\n", "  nope:\n").replace("[nop, debug/loud]", "[nope, debug/loud]"),
     "exporters::nope", "unknown type 'nope'"),
    (lambda t: t.replace("exporters: [nop]", "exporters: [missing]"),
     "service::pipelines::traces/other::exporters", "references exporter 'missing' which is not configured"),
    (lambda t: t.replace("max_request_body_size: 4MiB", "max_request_body_size: lots"),
     "receivers::otlp/second::max_request_body_size", "expected a size"),
    (lambda t: t.replace("verbosity: detailed", "verbosity: 3"), "exporters::debug/loud::verbosity", "must be one of"),
    (lambda t: t.replace("extensions: [keystore]", "extensions: [ks]"), "service::extensions", "'ks'"),
    (lambda t: t.replace("    traces/other:\n      receivers: [otlp]\n      exporters: [nop]\n", "")
     .replace("[nop, debug/loud]", "[debug/loud]"), "exporters::nop", "not used"),
    (lambda t: t + "extra: 1\n", "extra", "unknown key"),
    (lambda t: t.replace("processors: [auth]", "processors: [auth, auth]"),
     "service::pipelines::traces::processors", "multiple times"),
    (lambda t: t.replace("{path: /tmp/k.db}", "{path: [1, 2]}"), "extensions::keystore::path", "expected a string"),
])
def test_config_errors_name_the_path(mutate, path, message):
    with pytest.raises(ConfigError) as info:
        parse(mutate(GOOD))
    assert str(info.value).startswith(path + ":"), str(info.value)
    assert message in str(info.value)


def test_empty_and_non_mapping_files():
    with pytest.raises(ConfigError, match="empty"):
        parse("")
    with pytest.raises(ConfigError, match="mapping"):
        parse("- a\n- b\n")


def test_third_party_components_register_through_the_registry():
    reg = Registry()
    for kind in Kind:
        for t in Registry.default().types(kind):
            reg.register(Registry.default().get(kind, t))
    from spanlens_pipeline.exporters.nop import Config as NopConfig
    from spanlens_pipeline.exporters.nop import NopExporter
    reg.register(Factory("myexp", Kind.EXPORTER, NopConfig, NopExporter))
    cfg = parse(GOOD.replace("  nop:\n", "  nop:\n  myexp:\n").replace("exporters: [nop]", "exporters: [myexp]"), reg)
    assert cfg.get(Kind.EXPORTER, "myexp").factory.type == "myexp"
