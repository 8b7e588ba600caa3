"""GraphiQL is served by the service itself: every file its page loads comes from the
service, and (where Chromium is installed) it loads and runs a query with no other host
reachable."""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import Api, MakeApi, ServeLive

HTML = {"accept": "text/html"}
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = os.environ.get("BENEFITGATE_GRAPHIQL_SCREENSHOT")  # a PNG path, to look at it


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.urls.append(value)


def _page_urls(html: str) -> list[str]:
    links = _Links()
    links.feed(html)
    return links.urls


async def test_every_file_the_page_loads_is_served_by_the_service(api: Api) -> None:
    page = await api.client.get("/graphql", headers=HTML)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    urls = _page_urls(page.text)
    assert len(urls) >= 5  # GraphiQL's stylesheet and scripts, React, the starter

    for url in urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, f"{url} is not this service's"
        served = await api.client.get(url)
        assert served.status_code == 200, url
        wanted = "text/css" if url.endswith(".css") else "javascript"
        assert wanted in served.headers["content-type"], url
        if url.endswith(".css"):
            # Fonts and images in the stylesheet are inlined, not fetched.
            for ref in re.findall(r"url\(\s*['\"]?([^'\")]+)", served.text):
                assert ref.startswith(("data:", "#")), f"{url} loads {ref[:60]}"
    # The browser is told to load nothing from elsewhere.
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy


async def test_the_page_is_not_served_when_graphiql_is_off(make_api: MakeApi) -> None:
    async with make_api(graphiql=False) as api:
        page = await api.client.get("/graphql", headers=HTML)
        asset = await api.client.get("/graphiql/ide.js")

    assert "text/html" not in page.headers.get("content-type", "")
    assert asset.status_code == 404


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}: GraphiQL was not run in a browser"
)
async def test_graphiql_loads_and_runs_a_query_offline_in_chromium(serve_live: ServeLive) -> None:
    from playwright.async_api import Route, async_playwright

    elsewhere: list[str] = []
    problems: list[str] = []
    async with serve_live(dev_mode=True) as port, async_playwright() as playwright:
        origin = f"http://127.0.0.1:{port}"

        async def offline(route: Route) -> None:
            # Nothing but the service answers: as on a machine with no network.
            if route.request.url.startswith((origin, "ws://127.0.0.1")):
                await route.continue_()
            else:
                elsewhere.append(route.request.url)
                await route.abort()

        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            page = await browser.new_page()
            await page.route("**/*", offline)
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            await page.goto(f"{origin}/graphql")
            run = page.locator(".graphiql-execute-button")
            await run.wait_for(timeout=30_000)
            await page.wait_for_timeout(500)  # the schema's introspection settles
            await run.click()
            result = page.locator(".graphiql-response")
            await result.get_by_text('"tiers"').wait_for(timeout=30_000)
            shown = await result.inner_text()
            if SCREENSHOT:
                await page.screenshot(path=SCREENSHOT)
        finally:
            await browser.close()

    assert '"data"' in shown and '"tiers"' in shown, shown
    assert elsewhere == [], f"GraphiQL reached for {elsewhere}"
    assert problems == [], problems
