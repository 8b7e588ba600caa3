"""CORS as a browser sees it (where Chromium is installed): a page on a configured origin
calls the API with its credential header, which makes Chromium send a preflight first,
reads the answer and the RateLimit fields, and opens a WebSocket; a page on another
origin can do neither."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from benefitgate.config import Quota
from tests.conftest import ServeLive, frontend_token
from tests.fixtures.live import serve_in_process

CHROMIUM = Path("/usr/bin/chromium")


async def _page(request: Request) -> HTMLResponse:
    return HTMLResponse("<!doctype html><title>a frontend</title>")


FRONTEND = Starlette(routes=[Route("/", _page)])

# Three calls in a row, then a WebSocket; what the page could read of each.
SCRIPT = """async ([api, token]) => {
  const calls = [];
  for (let i = 0; i < 3; i++) {
    try {
      const r = await fetch(api, {
        method: "POST",
        headers: {"content-type": "application/json", "authorization": "Bearer " + token},
        body: JSON.stringify({query: "{ __typename }"}),
      });
      const body = await r.json();
      calls.push({status: r.status, ratelimit: r.headers.get("ratelimit"),
                  retryAfter: r.headers.get("retry-after"),
                  code: body.errors ? body.errors[0].extensions.code : null});
    } catch (e) {
      calls.push({blocked: String(e)});
    }
  }
  const socket = await new Promise((resolve) => {
    const ws = new WebSocket(api.replace("http", "ws"), "graphql-transport-ws");
    ws.onopen = () => { ws.close(); resolve("open"); };
    ws.onerror = () => resolve("refused");
  });
  return {calls, socket};
}"""


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}: CORS not run in a browser"
)
async def test_a_page_on_a_configured_origin_calls_the_api_and_others_cannot(
    serve_live: ServeLive,
) -> None:
    from playwright.async_api import async_playwright

    token = frontend_token(uuid.uuid4())
    results: dict[str, Any] = {}
    limits = {"frontend": Quota(2, 60)}
    # The frontends: two real servers on loopback (Chromium lets a page reach the loopback
    # address space only from there), named `localhost` so their origins differ from the
    # API's `127.0.0.1` by host as well as port.
    async with serve_in_process(FRONTEND) as one, serve_in_process(FRONTEND) as two:
        allowed, foreign = f"http://localhost:{one}", f"http://localhost:{two}"
        async with (
            serve_live(cors_origins=(allowed,), rate_quotas=limits) as port,
            async_playwright() as playwright,
        ):
            api = f"http://127.0.0.1:{port}/graphql"
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM))
            try:
                for origin in (allowed, foreign):
                    page = await browser.new_page()
                    await page.goto(f"{origin}/")
                    results[origin] = await page.evaluate(SCRIPT, [api, token])
                    await page.close()
            finally:
                await browser.close()

    calls = results[allowed]["calls"]
    assert [c.get("status") for c in calls] == [200, 200, 429], results
    assert calls[0]["ratelimit"] == '"frontend";r=1;t=30'  # exposed to the page
    assert calls[2]["retryAfter"] == "30" and calls[2]["code"] == "RATE_LIMITED"
    assert results[allowed]["socket"] == "open"
    assert all("blocked" in c for c in results[foreign]["calls"]), results[foreign]
    assert results[foreign]["socket"] == "refused"


# A GET query, then the same with the ETag it carried: what the page could read of each.
REVALIDATE = """async ([api, token]) => {
  const url = api + "?query=" + encodeURIComponent("{ __typename }");
  const auth = {"authorization": "Bearer " + token};
  const first = await fetch(url, {headers: auth, cache: "no-store"});
  const etag = first.headers.get("etag");
  const again = await fetch(url, {headers: {...auth, "if-none-match": etag}, cache: "no-store"});
  return {first: first.status, etag, again: again.status,
          againEtag: again.headers.get("etag"), requestId: again.headers.get("x-request-id")};
}"""


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}: CORS not run in a browser"
)
async def test_a_page_on_a_configured_origin_revalidates_a_get_query_with_its_etag(
    serve_live: ServeLive,
) -> None:
    """Chromium's preflight for `If-None-Match` was refused (CORS_REFUSED) and the ETag was
    hidden from the page, which could then never send it back."""
    from playwright.async_api import async_playwright

    token = frontend_token(uuid.uuid4())
    async with serve_in_process(FRONTEND) as one:
        origin = f"http://localhost:{one}"
        async with (
            serve_live(cors_origins=(origin,), response_cache=True) as port,
            async_playwright() as playwright,
        ):
            api = f"http://127.0.0.1:{port}/graphql"
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM))
            try:
                page = await browser.new_page()
                await page.goto(f"{origin}/")
                result = await page.evaluate(REVALIDATE, [api, token])
            finally:
                await browser.close()

    assert result["first"] == 200, result
    assert result["etag"] and result["etag"].startswith('"'), result
    assert result["again"] == 304, result
    assert result["againEtag"] == result["etag"] and result["requestId"], result
