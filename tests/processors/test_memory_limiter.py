"""memory_limiter: over the soft limit new requests get a retryable 503; under it they pass."""
from __future__ import annotations

import httpx

from spanlens_pipeline.processors.memory_limiter import rss_bytes

from ..support.config import BASE, service_config
from ..support.otlp import pb_request, pb_span


def _config(limit_mib: int) -> str:
    return service_config(processors={"memory_limiter": {"limit_mib": limit_mib}, **BASE["processors"]})


def test_over_the_limit_is_a_retryable_503_and_under_it_passes(service_factory, project):
    rss_mib = rss_bytes() // (1024 * 1024)
    assert rss_mib > 50  # the test process (with the embedded engine) is well above 50 MiB
    low = service_factory(_config(limit_mib=50))
    high = service_factory(_config(limit_mib=rss_mib * 20))
    headers = {"content-type": "application/x-protobuf", "authorization": f"Bearer {low.new_key(project)}"}
    r = httpx.post(low.url + "/v1/traces", content=pb_request([pb_span()]), headers=headers)
    assert r.status_code == 503 and r.headers["retry-after"] == "1"
    headers["authorization"] = f"Bearer {high.new_key(project)}"
    r = httpx.post(high.url + "/v1/traces", content=pb_request([pb_span()]), headers=headers)
    assert r.status_code == 200
    metrics = httpx.get(low.url + "/metrics").text
    assert "spanlens_memory_limiter_refused_total" in metrics
