"""The built-in web page, driven in headless Chromium against a running service that
received its traces from the real OpenTelemetry SDK over OTLP/HTTP."""
from __future__ import annotations

import re

import httpx
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode
from playwright.sync_api import expect


def _provider(url: str, key: str, batch: bool = False) -> TracerProvider:
    exporter = OTLPSpanExporter(endpoint=f"{url}/v1/traces", headers={"Authorization": f"Bearer {key}"})
    provider = TracerProvider(resource=Resource.create({"service.name": "webui-agent"}))
    provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=4096, max_export_batch_size=500)
                                if batch else SimpleSpanProcessor(exporter))
    return provider


def send_agent_trace(url: str, key: str, name: str) -> str:
    """A small agent run: retrieval, an LLM call with usage and a failing tool under it."""
    provider = _provider(url, key)
    tracer = provider.get_tracer("webui-test")
    with tracer.start_as_current_span(name) as root:
        with tracer.start_as_current_span("search-docs") as r:
            r.set_attribute("gen_ai.operation.name", "retrieval")
        with tracer.start_as_current_span("chat gpt-4o-mini") as llm:
            llm.set_attribute("gen_ai.operation.name", "chat")
            llm.set_attribute("gen_ai.provider.name", "openai")
            llm.set_attribute("gen_ai.request.model", "gpt-4o-mini")
            llm.set_attribute("gen_ai.usage.input_tokens", 1000)
            llm.set_attribute("gen_ai.usage.output_tokens", 500)
            with tracer.start_as_current_span("lookup-weather") as tool:
                tool.set_attribute("gen_ai.operation.name", "execute_tool")
                tool.set_status(Status(StatusCode.ERROR, "tool broke"))
    provider.shutdown()
    return format(root.get_span_context().trace_id, "032x")


def send_wide_trace(url: str, key: str, spans: int) -> str:
    """One trace of ``spans`` spans: a root, 9 groups, leaves under the groups."""
    provider = _provider(url, key, batch=True)
    tracer = provider.get_tracer("webui-test")
    with tracer.start_as_current_span("big-run") as root:
        made = 1
        for g in range(9):
            with tracer.start_as_current_span(f"group-{g}"):
                made += 1
                while made < spans and made < 1 + (g + 1) * (spans - 1) // 9:
                    with tracer.start_as_current_span(f"step-{made}") as s:
                        s.set_attribute("gen_ai.operation.name", "execute_tool")
                    made += 1
    provider.shutdown()
    return format(root.get_span_context().trace_id, "032x")


def sign_in(page, url: str, key: str) -> None:
    page.goto(url + "/")
    page.fill("#key", key)
    page.press("#key", "Enter")
    expect(page.locator("#nav")).to_be_visible()


def open_trace(page, url: str, key: str, trace_id: str, spans: int) -> None:
    sign_in(page, url, key)
    page.goto(f"{url}/#/trace/{trace_id}")
    expect(page.locator("#waterfall .wf-row")).to_have_count(spans, timeout=60_000)


def test_page_is_served_with_strict_headers(web_service):
    r = httpx.get(web_service.url + "/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-cache"
    js = httpx.get(web_service.url + "/ui/app.js")
    assert js.headers["content-type"].startswith("text/javascript")
    assert httpx.get(web_service.url + "/ui/app.css").headers["content-type"].startswith("text/css")
    again = httpx.get(web_service.url + "/ui/app.js", headers={"If-None-Match": js.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    missing = httpx.get(web_service.url + "/ui/secret.py")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"
    assert "http" not in re.sub(r"http://www\.w3\.org/2000/svg", "", js.text)  # nothing from elsewhere


def test_wrong_key_shows_a_clear_message_and_is_not_kept(web_service, page):
    page.goto(web_service.url + "/")
    page.fill("#key", "sl_live_" + "x" * 40)
    page.click("#signin-form button")
    expect(page.locator("#signin-error")).to_contain_text("not accepted")
    expect(page.locator("#nav")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('spanlens.key')") is None
    assert "sl_live_" not in page.url


def test_sdk_trace_waterfall_nesting_and_span_detail(web_service, page, project):
    key = web_service.new_key(project)
    trace_id = send_agent_trace(web_service.url, key, "answer-question")
    open_trace(page, web_service.url, web_service.new_key(project, public=True), trace_id, 4)
    rows = page.locator("#waterfall .wf-row")
    names = rows.locator(".label").all_inner_texts()
    assert names == ["answer-question", "search-docs", "chat gpt-4o-mini", "lookup-weather"]
    assert [rows.nth(i).get_attribute("data-depth") for i in range(4)] == ["0", "1", "1", "2"]
    assert [rows.nth(i).get_attribute("data-type") for i in (1, 2, 3)] == ["retrieval", "llm", "tool"]
    assert rows.nth(3).locator(".err").count() == 1 and rows.nth(3).locator(".wf-bar.error").count() == 1
    assert rows.nth(0).locator(".wf-bar.error").count() == 0

    rows.nth(2).click()
    detail = page.locator("#span-detail")
    expect(detail).to_be_visible()
    tokens = detail.locator("dl.tokens")
    expect(tokens).to_contain_text("Input1,000")
    expect(tokens).to_contain_text("Output500")
    expect(tokens).to_contain_text("Total1,500")
    expect(detail).to_contain_text("$0.00045")
    expect(detail).to_contain_text("computed")
    expect(detail).to_contain_text("gpt-4o-mini")
    expect(detail.locator("table.attrs")).to_contain_text("gen_ai.usage.input_tokens")


def test_keyboard_moves_opens_and_goes_back(web_service, page, project):
    key = web_service.new_key(project)
    trace_id = send_agent_trace(web_service.url, key, "keyboard-run")
    open_trace(page, web_service.url, key, trace_id, 4)
    expect(page.locator("#waterfall .wf-row").first).to_be_focused()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.locator("#span-detail h2")).to_have_text("chat gpt-4o-mini")
    page.keyboard.press("Escape")
    expect(page).to_have_url(re.compile(r"#/traces$"))
    expect(page.locator("#view-traces")).to_be_visible()


def test_thousand_span_trace_renders_every_row(web_service, page, project):
    key = web_service.new_key(project)
    trace_id = send_wide_trace(web_service.url, key, 1000)
    open_trace(page, web_service.url, key, trace_id, 1000)
    rows = page.locator("#waterfall .wf-row")
    assert rows.nth(0).get_attribute("data-depth") == "0"
    assert rows.nth(1).get_attribute("data-depth") == "1" and rows.nth(2).get_attribute("data-depth") == "2"
    rows.nth(999).click()
    expect(page.locator("#span-detail h2")).to_have_text(re.compile(r"^step-\d+$"))


def test_list_shows_sdk_trace_live_and_opens_it(web_service, page, project):
    key = web_service.new_key(project)
    first = send_agent_trace(web_service.url, key, "first-question")
    sign_in(page, web_service.url, web_service.new_key(project, public=True))
    row = page.locator(f'#traces-table tbody tr[data-id="{first}"]')
    expect(row).to_be_visible()
    cells = row.locator("td").all_inner_texts()
    assert cells[0].startswith("first-question") and "gpt-4o-mini" in cells[0]
    assert cells[3].startswith("4") and "1 err" in cells[3]
    assert cells[4] == "1,500" and cells[5] == "$0.00045" and cells[6] == "error"
    row.focus()

    second = send_agent_trace(web_service.url, key, "second-question")  # arrives by polling
    new_row = page.locator(f'#traces-table tbody tr[data-id="{second}"]')
    expect(new_row).to_be_visible()
    assert page.locator("#traces-table tbody tr").first.get_attribute("data-id") == second
    expect(row).to_be_focused()  # the poll kept the selection

    page.fill("#trace-filters input[name=name]", "second")
    expect(page.locator("#traces-table tbody tr")).to_have_count(1)
    page.locator("#traces-table tbody tr").first.focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(f"#/trace/{second}$"))
    expect(page.locator("#trace-title")).to_have_text("second-question")
    expect(page.locator("#waterfall .wf-row")).to_have_count(4)


def test_cost_view_charts_the_model(web_service, page, project):
    key = web_service.new_key(project)
    send_agent_trace(web_service.url, key, "costly")
    sign_in(page, web_service.url, key)
    page.goto(web_service.url + "/#/cost")
    table = page.locator("#models-table tbody")
    expect(table).to_contain_text("gpt-4o-mini")
    expect(page.locator('#chart-cost svg rect[data-model="gpt-4o-mini"]')).to_have_count(1)
    expect(page.locator("#chart-tokens svg")).to_contain_text("input")
    expect(page.locator("#cost-cards")).to_contain_text("$0.00045")


def test_spans_whose_parent_never_arrived_are_listed_apart(web_service, page, project):
    from opentelemetry import trace as otel
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    key = web_service.new_key(project)
    provider = _provider(web_service.url, key)
    tracer = provider.get_tracer("webui-test")
    with tracer.start_as_current_span("root-step") as root:
        ctx = root.get_span_context()
    missing = SpanContext(ctx.trace_id, 0xABCDEF0123456789, is_remote=True, trace_flags=TraceFlags(1))
    with tracer.start_as_current_span("late-child", context=otel.set_span_in_context(NonRecordingSpan(missing))):
        pass
    provider.shutdown()
    open_trace(page, web_service.url, key, format(ctx.trace_id, "032x"), 2)
    expect(page.locator("#waterfall .wf-section")).to_contain_text("Orphans")
    after = page.locator("#waterfall .wf-section ~ .wf-row .label").all_inner_texts()
    assert after == ["late-child"]
    expect(page.locator("#trace-summary")).to_contain_text("Orphans")


def test_cost_chart_splits_each_day_by_model(web_service, page, project):
    key = web_service.new_key(project)
    send_agent_trace(web_service.url, key, "cheap")
    provider = _provider(web_service.url, key)
    with provider.get_tracer("webui-test").start_as_current_span("chat gpt-4o") as s:
        s.set_attribute("gen_ai.operation.name", "chat")
        s.set_attribute("gen_ai.provider.name", "openai")
        s.set_attribute("gen_ai.request.model", "gpt-4o")
        s.set_attribute("gen_ai.usage.input_tokens", 1000)
        s.set_attribute("gen_ai.usage.output_tokens", 100)
    provider.shutdown()
    sign_in(page, web_service.url, key)
    page.goto(web_service.url + "/#/cost")
    bars = page.locator("#chart-cost svg rect")
    expect(bars).to_have_count(2)
    assert sorted(bars.evaluate_all("els => els.map(e => e.dataset.model)")) == ["gpt-4o", "gpt-4o-mini"]
    assert len(set(bars.evaluate_all("els => els.map(e => e.dataset.day)"))) == 1
    expect(page.locator("#chart-latency svg")).to_contain_text("gpt-4o")
