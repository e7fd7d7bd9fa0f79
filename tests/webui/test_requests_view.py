"""The Requests view: a call made with the real OpenAI SDK through the proxy (to the stub
upstream) is listed with its provider, model, status, tokens and cost, and opens its trace."""
from __future__ import annotations

import re

import openai
import pytest
from playwright.sync_api import expect

from tests.proxy.conftest import add_provider_key, encryption_key, proxy_yaml, stub  # noqa: F401  (fixtures)
from tests.support.running import RunningService, start_service

from .test_webui import sign_in

API = "  api:\n    endpoint: 127.0.0.1:{port}\n"


@pytest.fixture(scope="module")
def proxy_web(tmp_path_factory, chdb_path, stub, encryption_key) -> RunningService:  # noqa: F811
    rs = start_service(proxy_yaml(stub, extensions=API), tmp_path_factory.mktemp("proxyweb"), chdb_path)
    yield rs
    rs.stop()


def test_requests_view_lists_a_proxied_call_and_opens_its_trace(proxy_web, page, project):
    key = proxy_web.new_key(project)
    add_provider_key(proxy_web, key, "openai")
    client = openai.OpenAI(api_key=key, base_url=f"{proxy_web.url}/proxy/openai/v1", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini",
                                                           messages=[{"role": "user", "content": "hi"}])
    assert raw.parse().choices[0].message.content
    sign_in(page, proxy_web.url, proxy_web.new_key(project, public=True))
    page.goto(proxy_web.url + "/#/requests")
    row = page.locator("#requests-table tbody tr").first
    for _ in range(30):  # the log row is stored after the answer
        if page.locator("#requests-table tbody tr").count():
            break
        page.click("#requests-refresh")
        page.wait_for_timeout(300)
    cells = row.locator("td").all_inner_texts()
    assert cells[1] == "openai" and cells[2] == "gpt-4o-mini-2024" and cells[3] == "200"
    assert cells[5] == "1,200 / 300" and cells[6].startswith("$")
    row.focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#/trace/[0-9a-f-]+$"))
    expect(page.locator("#waterfall .wf-row")).to_have_count(1)
    expect(page.locator("#waterfall .wf-row").first).to_have_attribute("data-type", "llm")
