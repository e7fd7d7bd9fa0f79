"""The real Spanlens Python SDK, unchanged, pointed at the service."""
from __future__ import annotations

import threading

import pytest
from spanlens import SpanlensClient, observe

from .helpers import client, flatten, get_trace, hex_id


@pytest.fixture
def sdk(ingest_service, project):
    failures: list = []
    key = ingest_service.new_key(project)
    made: list[SpanlensClient] = []

    def make(**kw) -> SpanlensClient:
        c = SpanlensClient(key, base_url=ingest_service.url, on_error=lambda err, where: failures.append((where, err)), **kw)
        made.append(c)
        return c

    yield make, client(ingest_service, key), failures
    for c in made:
        c.close()


def test_nested_spans_observe_tokens_and_errors(sdk, store):
    make, http, failures = sdk
    sl = make()
    with pytest.raises(ValueError):
        with sl.start_trace("rag_pipeline", metadata={"user": "u_42"}) as trace:
            with trace.span("retrieval", span_type="retrieval", input={"q": "why"}) as retrieval:
                with retrieval.child("embed", span_type="embedding") as embed:
                    embed.end(output=[0.1, 0.2], prompt_tokens=7, total_tokens=7)
                found = observe(retrieval, "vector_search", lambda span: ["doc1", "doc2"], span_type="tool")
                retrieval.end(output=found)
            with trace.span("generation", span_type="llm") as gen:
                gen.end(output="answer", prompt_tokens=120, completion_tokens=30, total_tokens=150, cost_usd=0.0023)
            with trace.span("post_process"):
                raise ValueError("formatter broke")
    assert sl.flush(10) is True
    assert failures == [] and sl.dropped_count == 0

    data = get_trace(http, trace.trace_id)
    spans = flatten(data)
    by_name = {s["name"]: s for s in spans.values()}
    assert set(by_name) == {"retrieval", "embed", "vector_search", "generation", "post_process"}
    assert data["orphan_count"] == 0 and data["span_count"] == 5
    assert by_name["embed"]["tree_parent"] == by_name["vector_search"]["tree_parent"] == hex_id(retrieval.span_id)
    assert by_name["retrieval"]["tree_parent"] is None and by_name["generation"]["tree_parent"] is None
    assert by_name["retrieval"]["input"] == {"q": "why"} and by_name["retrieval"]["output"] == ["doc1", "doc2"]
    assert by_name["vector_search"]["span_type"] == "tool" and by_name["vector_search"]["status"] == "completed"
    gen_span = by_name["generation"]
    assert (gen_span["input_tokens"], gen_span["output_tokens"], gen_span["total_tokens"]) == (120, 30, 150)
    assert gen_span["cost_usd"] == "0.0023" and gen_span["cost_source"] == "reported"
    stored = store.query("SELECT cost_usd, reported_cost_usd, span_type FROM spanlens.spans FINAL "
                         "WHERE trace_id = %(t)s AND name = 'generation'", {"t": hex_id(trace.trace_id)})
    assert [(str(r["cost_usd"].normalize()), str(r["reported_cost_usd"].normalize()), r["span_type"])
            for r in stored] == [("0.0023", "0.0023", "llm")]
    assert gen_span["duration_ms"] is not None and gen_span["duration_ms"] >= 0
    assert by_name["post_process"]["status"] == "error"
    assert by_name["post_process"]["status_message"] == "formatter broke"
    assert data["name"] == "rag_pipeline" and data["status"] == "error"
    assert data["error_message"] == "formatter broke" and data["metadata"] == {"user": "u_42"}
    assert data["total_tokens"] == 157 and data["input_tokens"] == 127 and data["total_cost_usd"] == "0.0023"
    assert data["duration_ms"] is not None


def test_sampling_keeps_only_error_traces(sdk):
    make, http, failures = sdk
    sl = make(sample_rate=0.0)
    with sl.start_trace("quiet") as quiet:
        with quiet.span("step"):
            pass
    loud = sl.start_trace("loud")
    with loud.span("step") as step:
        with step.child("inner") as inner:
            inner.end(total_tokens=5)
    loud.end(status="error", error_message="bad end")
    assert sl.flush(10) is True
    assert failures == [] and sl.dropped_count == 0

    assert http.get(f"/api/v1/traces/{quiet.trace_id}").status_code == 404
    data = get_trace(http, loud.trace_id)
    spans = flatten(data)
    assert data["status"] == "error" and data["span_count"] == 2 and data["total_tokens"] == 5
    assert spans[hex_id(inner.span_id)]["tree_parent"] == hex_id(step.span_id)


def test_many_traces_from_threads(sdk):
    make, http, failures = sdk
    sl = make()
    made: list[tuple[str, dict[str, str | None]]] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        for i in range(4):
            with sl.start_trace(f"job-{n}-{i}") as trace:
                parents: dict[str, str | None] = {}
                with trace.span("outer") as outer:
                    parents[outer.span_id] = None
                    for j in range(3):
                        with outer.child(f"inner-{j}") as inner:
                            parents[inner.span_id] = outer.span_id
                            inner.end(total_tokens=j + 1)
            with lock:
                made.append((trace.trace_id, parents))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sl.flush(30) is True
    assert failures == [] and sl.dropped_count == 0
    assert len(made) == 24
    for trace_id, parents in made:
        data = get_trace(http, trace_id)
        spans = flatten(data)
        assert data["span_count"] == 4 and data["orphan_count"] == 0 and data["total_tokens"] == 6
        assert {sid: s["tree_parent"] for sid, s in spans.items()} == {
            hex_id(sid): (hex_id(p) if p else None) for sid, p in parents.items()}
