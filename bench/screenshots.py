"""Screenshots of the web page for the README: docs/traces.png, docs/waterfall.png, docs/cost.png.

    python bench/screenshots.py [--out docs]

Starts the service in this process on a fresh embedded store, sends a week of made-up agent
traces through the real OpenTelemetry SDK (several models, retrieval, tools, a few errors),
then photographs the page in Debian's headless Chromium (``/usr/bin/chromium``).
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from opentelemetry import trace as otel
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.running import start_service  # noqa: E402
from tests.webui.conftest import CHROMIUM, CHROMIUM_ARGS, WEB_CONFIG  # noqa: E402

MODELS = [("openai", "gpt-4o-mini", 0.45), ("openai", "gpt-4o", 0.25), ("anthropic", "claude-sonnet-4-5", 0.2),
          ("openai", "gpt-4.1-mini", 0.1)]
QUESTIONS = ["Where is my order #4411?", "Summarise the refund policy", "Which plan includes SSO?",
             "Translate the invoice to German", "Why was my card declined?"]
MS = 1_000_000


def _pick(rng: random.Random) -> tuple[str, str]:
    r, acc = rng.random(), 0.0
    for provider, model, weight in MODELS:
        acc += weight
        if r <= acc:
            return provider, model
    return MODELS[0][:2]


def send_demo(url: str, key: str, traces: int, seed: int = 7) -> str:
    """``traces`` agent runs spread over the last 7 days; returns the id of the newest one."""
    rng = random.Random(seed)
    exporter = OTLPSpanExporter(endpoint=f"{url}/v1/traces", headers={"Authorization": f"Bearer {key}"})
    provider = TracerProvider(resource=Resource.create({"service.name": "support-agent"}))
    provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=8192, max_export_batch_size=512))
    tracer = provider.get_tracer("demo")
    now = time.time_ns()
    newest = ""
    for i in range(traces):
        t = now - int((traces - i) / traces * 7 * 86400e9) + rng.randint(0, 3600) * 10**9
        if i == traces - 1:
            t = now - 90 * 10**9
        question = rng.choice(QUESTIONS)
        name = rng.choice(["support-chat", "rag-answer", "ticket-triage"])
        root = tracer.start_span(name, start_time=t, attributes={"session.id": f"s-{i // 3}",
                                                                  "user.id": f"user-{rng.randint(1, 9)}"})
        ctx = otel.set_span_in_context(root)
        cur = t + rng.randint(2, 10) * MS
        emb = tracer.start_span("embed query", context=ctx, start_time=cur, attributes={
            "gen_ai.operation.name": "embeddings", "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "text-embedding-3-small", "gen_ai.usage.input_tokens": rng.randint(8, 40)})
        cur += rng.randint(40, 120) * MS
        emb.end(end_time=cur)
        ret = tracer.start_span("vector search", context=ctx, start_time=cur,
                                attributes={"gen_ai.operation.name": "retrieval", "db.system": "qdrant"})
        cur += rng.randint(20, 90) * MS
        ret.end(end_time=cur)
        failed = rng.random() < 0.08 or i == traces - 1  # the photographed trace shows an error
        for step in range(rng.randint(1, 3)):
            prov, model = _pick(rng)
            n_in, n_out = rng.randint(300, 4000), rng.randint(60, 900)
            llm = tracer.start_span(f"chat {model}", context=ctx, start_time=cur, attributes={
                "gen_ai.operation.name": "chat", "gen_ai.provider.name": prov, "gen_ai.request.model": model,
                "gen_ai.usage.input_tokens": n_in, "gen_ai.usage.output_tokens": n_out,
                "gen_ai.input.messages": json.dumps([
                    {"role": "system", "parts": [{"type": "text", "content": "You are a helpful support agent."}]},
                    {"role": "user", "parts": [{"type": "text", "content": question}]}]),
                "gen_ai.output.messages": json.dumps([
                    {"role": "assistant", "parts": [{"type": "text", "content": "Let me check that for you."}]}]),
            })
            lctx = otel.set_span_in_context(llm)
            t_call = cur + rng.randint(300, 2500) * MS
            if step == 0:
                tool = tracer.start_span("lookup_order", context=lctx, start_time=cur + 200 * MS,
                                         attributes={"gen_ai.operation.name": "execute_tool",
                                                     "gen_ai.tool.name": "lookup_order"})
                if failed:
                    tool.set_status(Status(StatusCode.ERROR, "order service timed out"))
                tool.end(end_time=cur + rng.randint(250, 280) * MS)
            llm.end(end_time=t_call)
            cur = t_call + rng.randint(5, 30) * MS
        if failed:
            root.set_status(Status(StatusCode.ERROR, "tool failed"))
        root.end(end_time=cur + 5 * MS)
        newest = format(root.get_span_context().trace_id, "032x")
    provider.shutdown()
    return newest


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(REPO / "docs"))
    ap.add_argument("--traces", type=int, default=120)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import expect, sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        rs = start_service(WEB_CONFIG, Path(tmp), str(Path(tmp) / "chdb"))
        try:
            key = rs.new_key("demo")
            newest = send_demo(rs.url, key, args.traces)
            public = rs.new_key("demo", public=True)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                page = browser.new_page(viewport={"width": 1440, "height": 860})
                page.goto(rs.url + "/")
                page.fill("#key", public)
                page.press("#key", "Enter")
                page.select_option("#trace-filters select[name=range]", "604800")
                expect(page.locator("#traces-table tbody tr").nth(20)).to_be_visible(timeout=60_000)
                page.screenshot(path=str(out / "traces.png"))
                page.goto(f"{rs.url}/#/trace/{newest}")
                rows = page.locator("#waterfall .wf-row")
                expect(rows.first).to_be_visible(timeout=60_000)
                page.locator("#waterfall .wf-row[data-type=llm]").first.click()
                expect(page.locator("#span-detail")).to_be_visible()
                page.screenshot(path=str(out / "waterfall.png"))
                page.goto(rs.url + "/#/cost")
                page.select_option("#cost-filters select[name=range]", "604800")
                expect(page.locator("#chart-cost svg rect").first).to_be_attached(timeout=60_000)
                page.set_viewport_size({"width": 1440, "height": 1220})
                page.wait_for_timeout(500)
                page.screenshot(path=str(out / "cost.png"))
                browser.close()
        finally:
            rs.stop()
    for name in ("traces.png", "waterfall.png", "cost.png"):
        print(f"{out / name}: {(out / name).stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
