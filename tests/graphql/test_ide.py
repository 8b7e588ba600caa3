"""GraphiQL is served by the service itself: every file its page loads comes from the
service, and (where Chromium is installed) it loads and runs a query and a subscription,
with the credential of its Headers pane, with no other host reachable."""

from __future__ import annotations

import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest

from tests.conftest import Api, MakeApi, ServeLive, api_key
from tests.fixtures.csp import socket_elsewhere
from tests.fixtures.node import assert_rebuilds

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


SUBSCRIPTION = 'subscription Refused { events(after: "not-a-cursor") { ... on Error { code } } }'


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}: GraphiQL was not run in a browser"
)
async def test_graphiql_runs_a_query_and_a_subscription_offline_in_chromium(
    serve_live: ServeLive, conn: asyncpg.Connection
) -> None:
    from playwright.async_api import Route, async_playwright

    key = await api_key(conn)
    elsewhere: list[str] = []
    problems: list[str] = []
    sockets: list[str] = []
    refused: list[dict[str, str]] = []  # the headers of requests answered 401
    async with serve_live() as port, async_playwright() as playwright:
        origin = f"http://127.0.0.1:{port}"

        async def offline(route: Route) -> None:
            # Nothing but the service answers: as on a machine with no network.
            if route.request.url.startswith(origin):
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
            page.on("websocket", lambda ws: sockets.append(ws.url))
            page.on(
                "response", lambda r: refused.append(r.request.headers) if r.status == 401 else None
            )
            await page.goto(f"{origin}/graphql")
            run = page.locator(".graphiql-execute-button")
            await run.wait_for(timeout=30_000)
            # The credential goes in the Headers pane, as the page's comment says.
            await _type_into(page, ".graphiql-editor-tool", f'{{"Authorization": "Bearer {key}"}}')
            await run.click()
            result = page.locator(".graphiql-response")
            await result.get_by_text('"tiers"').wait_for(timeout=30_000)
            query_shown = await result.inner_text()
            await _type_into(page, ".graphiql-query-editor", SUBSCRIPTION)
            # GraphiQL reads the operation's name from the editor a moment after typing,
            # and names the tab after it: run once it has.
            await page.get_by_role("tab", name="Refused").wait_for(timeout=30_000)
            await run.click()
            await result.get_by_text("INVALID_INPUT").wait_for(timeout=30_000)
            subscription_shown = await result.inner_text()
        finally:
            if SCREENSHOT:  # also of a failure, to see what the page showed
                await page.screenshot(path=SCREENSHOT)
            await browser.close()

    assert '"data"' in query_shown and '"tiers"' in query_shown, query_shown
    # The subscription ran over the WebSocket, authenticated by the same header.
    assert sockets == [f"ws://127.0.0.1:{port}/graphql"]
    assert '"code": "INVALID_INPUT"' in subscription_shown, subscription_shown
    assert elsewhere == [], f"GraphiQL reached for {elsewhere}"
    # Before the credential was entered, its schema request was refused (401, which the
    # browser logs); nothing else went wrong.
    assert all("authorization" not in headers for headers in refused), refused
    unauthorized = "status of 401 (Unauthorized)"
    assert [p for p in problems if unauthorized not in p] == [], problems
    assert sum(unauthorized in p for p in problems) == len(refused)


async def _type_into(page: Any, editor: str, text: str) -> None:
    """Replace an editor's text as a user would: select all, then type."""
    await page.locator(f"{editor} .CodeMirror:visible").click()
    await page.keyboard.press("Control+A")
    await page.keyboard.press("Delete")
    await page.keyboard.insert_text(text)


ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(
    shutil.which("npm") is None, reason="no npm: the committed GraphiQL was not rebuilt to compare"
)
def test_the_committed_graphiql_is_what_its_pinned_packages_build(tmp_path: Path) -> None:
    committed = ROOT / "src" / "benefitgate" / "graphql" / "static" / "graphiql"
    assert_rebuilds(
        ROOT / "scripts" / "build-graphiql", committed, tmp_path / "out", "make graphiql"
    )


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}: GraphiQL was not run in a browser"
)
async def test_graphiql_may_open_sockets_to_the_service_only(serve_live: ServeLive) -> None:
    from playwright.async_api import async_playwright

    async with serve_live() as port, async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            page = await browser.new_page()
            await page.goto(f"http://127.0.0.1:{port}/graphql")
            # Another host, listening: the policy's `ws: wss:` let a page reach any.
            answer = await socket_elsewhere(page, f"ws://localhost:{port}/graphql")
        finally:
            await browser.close()

    assert answer == "refused: connect-src"
