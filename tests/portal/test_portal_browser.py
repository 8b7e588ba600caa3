"""The portal in Chromium (driven by Playwright), against the service over TCP: the figures
on the page are the API's for the same account, a usage event recorded through the API
moves the figure and the chart without a reload, a suggestion is accepted from the
keyboard, a token shows its own account only, and axe finds no serious violation.
Screenshots go to BENEFITGATE_ARTIFACTS (default `.cache/artifacts/`)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from benefitgate.db import create_pool
from benefitgate.demo.seed import seed_demo
from benefitgate.suggestions import service as suggestions
from tests.conftest import Api, MakeApi, ServeLive, api_key, catalog_loader, frontend_token
from tests.fixtures.csp import socket_elsewhere
from tests.fixtures.factories import NOW
from tests.fixtures.node import tools_folder

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("BENEFITGATE_ARTIFACTS", ROOT / ".cache" / "artifacts"))
DOCUMENTS = ROOT / "src" / "benefitgate" / "portal" / "static" / "documents"
VIEW = (DOCUMENTS / "PortalView.graphql").read_text()

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}: the portal was not run in a browser"
)

RECORD = """mutation($events: [UsageEventInput!]!) { usageRecord(events: $events) {
  ... on UsageRecorded { accepted } ... on Error { code } } }"""


def number(text: str) -> float:
    return float(text.replace(",", "").strip())


@pytest.fixture
async def demo(conn: asyncpg.Connection, dsn: str) -> dict[str, Any]:
    """The demo data (four accounts), with upgrade suggestions computed."""
    await seed_demo(conn, accounts=4, seed=7, now=NOW)
    pool = await create_pool(dsn, min_size=1, max_size=2)
    try:
        await suggestions.refresh_marked(pool, catalog_loader(pool), NOW)
    finally:
        await pool.close()
    rows = await conn.fetch("select id, name from accounts order by name")
    with_suggestion = await conn.fetchval(
        "select account_id from suggestions where status = 'open' order by confidence desc limit 1"
    )
    return {"accounts": rows, "suggested": with_suggestion, "admin": await api_key(conn)}


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            yield launched
        finally:
            await launched.close()


async def open_portal(browser: Any, port: int, token: str, problems: list[str]) -> Any:
    """The portal for `token`, loaded and following live events; `problems` collects
    console errors, page errors and requests to any other host."""
    origin = f"http://127.0.0.1:{port}"
    page = await browser.new_page(viewport={"width": 1280, "height": 900})

    async def only_the_service(route: Any) -> None:
        if route.request.url.startswith(origin):
            await route.continue_()
        else:
            problems.append(f"reached for {route.request.url}")
            await route.abort()

    await page.route("**/*", only_the_service)
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    await page.goto(f"{origin}/portal#token={token}")
    await page.wait_for_selector("body[data-refreshes]", timeout=30_000)
    await page.wait_for_selector("body[data-live=live]", timeout=30_000)
    return page


async def api_view(api: Api, token: str, account: UUID, page: Any) -> dict[str, Any]:
    """The API's answer to the page's own document, for the page's own variables."""
    variables = {"id": str(account), "from": await page.evaluate("window.portal.vars.from"),
                 "to": await page.evaluate("window.portal.vars.to")}  # fmt: skip
    return await api.data(VIEW, variables, auth=token)


async def shot(page: Any, name: str) -> None:
    await asyncio.to_thread(ARTIFACTS.mkdir, parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"portal-{name}.png"), full_page=True)


async def test_the_page_shows_the_apis_figures_and_follows_usage_live(
    demo: dict[str, Any], serve_live: ServeLive, api: Api, browser: Any
) -> None:
    account = demo["accounts"][0]["id"]
    token = frontend_token(account)
    problems: list[str] = []
    async with serve_live(portal=True) as port:
        page = await open_portal(browser, port, token, problems)
        await shot(page, "overview")
        data = await api_view(api, token, account, page)
        view = data["account"]

        assert await page.inner_text("#account-name") == view["name"]
        tier = page.locator("[data-current-tier]")
        assert await tier.get_attribute("data-current-tier") == view["tier"]["key"]
        assert await page.locator(".ladder > li").count() == len(data["tiers"])
        shown_exclusions = await page.locator("[data-excluded]").count()
        assert shown_exclusions == sum(len(t["exclusions"]) for t in data["tiers"])
        series = {s["metric"]["key"]: s["points"] for s in view["usageSeries"]["series"]}
        assert view["usage"], "the demo account has limited metrics"
        for usage in view["usage"]:
            row = page.locator(f'[data-metric="{usage["metric"]["key"]}"]')
            assert number(await row.locator(".used").inner_text()) == round(usage["used"], 2)
            if usage["projected"] is not None:
                projected = await row.locator("[data-projected]").get_attribute("data-projected")
                assert float(projected or "nan") == usage["projected"]
            cells = row.locator("td[data-value]")
            shown = [
                await cells.nth(i).get_attribute("data-value") for i in range(await cells.count())
            ]
            assert [float(v) if v else None for v in shown] == [
                p["value"] for p in series[usage["metric"]["key"]]
            ]
        seats = page.locator("[data-seats-assigned]")
        assert await seats.get_attribute("data-seats-assigned") == str(view["seats"]["assigned"])
        if view["renewal"]:
            days = await page.locator("[data-days-left]").get_attribute("data-days-left")
            assert days == str(view["renewal"]["daysLeft"])
        for target in view["outcomeTargets"]:
            assert await page.locator(f'[data-outcome="{target["outcome"]["key"]}"]').count() == 1
        for reached in view["milestones"]["achieved"]:
            assert (
                await page.locator(f'[data-achieved="{reached["milestone"]["key"]}"]').count() >= 1
            )

        # Each panel was given exactly its own fragment's fields, nothing of the others'.
        panels = await page.evaluate("window.portal.panels")
        assert set(panels["SeatsPanel"]) == {"account"}
        assert set(panels["SeatsPanel"]["account"]) == {"__typename", "seats"}
        assert set(panels["LadderPanel"]) == {"tiers", "account"}
        assert set(panels["LadderPanel"]["account"]) == {"__typename", "tier"}
        assert set(panels["RenewalPanel"]) == {"account", "impactSummary"}
        assert set(panels["UsagePanel"]["account"]) == {"__typename", "usage", "usageSeries"}
        assert set(panels["PlanPanel"]) == {"selfServePolicy", "tiers", "account"}
        assert set(panels["PlanPanel"]["tiers"][0]) == {"key", "name", "rank"}

        # A usage event recorded through the API moves the figure and the chart, live.
        metric = "api_calls"  # a sum: the day's point grows by the value recorded
        assert metric in series
        before_total = sum(p["value"] or 0 for p in series[metric])
        await page.evaluate("window.notReloaded = true")
        event = {"eventId": "portal-live-1", "accountId": str(account), "metric": metric,
                 "value": 7, "occurredAt": NOW.isoformat()}  # fmt: skip
        recorded = await api.data(RECORD, {"events": [event]}, auth=demo["admin"])
        assert recorded["usageRecord"]["accepted"] == 1
        after = (await api_view(api, token, account, page))["account"]
        used_after = next(u["used"] for u in after["usage"] if u["metric"]["key"] == metric)
        row = page.locator(f'[data-metric="{metric}"]')
        await page.wait_for_function(
            """([m, v]) => Number(document.querySelector(`[data-metric="${m}"] .used`)
                                   .dataset.used) === v""",
            arg=[metric, used_after], timeout=15_000,
        )  # fmt: skip
        assert number(await row.locator(".used").inner_text()) == round(used_after, 2)
        plot = row.locator("[data-chart]")
        total = float(await plot.get_attribute("data-total") or "nan")
        assert total == pytest.approx(before_total + 7)
        assert await page.evaluate("window.notReloaded") is True
        assert "usage.recorded" in await page.evaluate("window.portal.events")
        await shot(page, "after-usage")
        await page.close()  # before the service stops: its socket would then fail to reconnect

    assert problems == [], problems


async def test_a_suggestion_is_accepted_from_the_keyboard_and_the_tier_changes(
    demo: dict[str, Any], serve_live: ServeLive, api: Api, browser: Any
) -> None:
    account = demo["suggested"]
    assert account is not None, "the demo data has an open suggestion"
    token = frontend_token(account)
    problems: list[str] = []
    async with serve_live(portal=True) as port:
        page = await open_portal(browser, port, token, problems)
        suggested = await page.locator("[data-suggested]").get_attribute("data-suggested")
        accept = page.get_by_role("button", name="Upgrade to")
        # The first Tab reaches the skip link; Tab on until the button has the focus.
        for _ in range(200):
            await page.keyboard.press("Tab")
            if await accept.evaluate("b => b === document.activeElement"):
                break
        else:
            pytest.fail("the accept button cannot be reached with the keyboard")
        await page.keyboard.press("Enter")
        await page.locator(f'[data-current-tier="{suggested}"]').wait_for(timeout=15_000)
        await shot(page, "accepted")
        await page.close()
        tier_after = await api.data(
            "query($id: ID!) { account(id: $id) { ... on Account { tier { key } } } }",
            {"id": str(account)}, auth=token,
        )  # fmt: skip
    assert tier_after["account"]["tier"]["key"] == suggested
    assert problems == [], problems


async def test_a_token_shows_its_own_account_and_nothing_of_another(
    demo: dict[str, Any], serve_live: ServeLive, browser: Any
) -> None:
    mine, other = demo["accounts"][1], demo["accounts"][2]
    problems: list[str] = []
    async with serve_live(portal=True) as port:
        page = await open_portal(browser, port, frontend_token(mine["id"]), problems)
        text = await page.inner_text("body")
        # The page's own client asked for the other account with this token: NOT_FOUND.
        asked = await page.evaluate(
            """async (id) => {
                 const token = sessionStorage.getItem("benefitgate-token");
                 const query = "query($id: ID!) { account(id: $id) { __typename } }";
                 const r = await fetch("/graphql", {method: "POST",
                   headers: {"content-type": "application/json",
                             authorization: `Bearer ${token}`},
                   body: JSON.stringify({query, variables: {id}})});
                 return (await r.json()).data.account.__typename;
               }""",
            str(other["id"]),
        )
        await page.close()
    assert mine["name"] in text and other["name"] not in text
    assert asked == "NotFoundError"
    assert problems == [], problems


async def test_labels_keyboard_and_axe_find_no_serious_violation(
    demo: dict[str, Any], serve_live: ServeLive, browser: Any
) -> None:
    axe = tools_folder() / "node_modules" / "axe-core" / "axe.min.js"
    problems: list[str] = []
    every_switch = frozenset({"trial", "downgrade", "term", "cancel"})  # the plan's buttons too
    async with serve_live(portal=True, self_serve=every_switch) as port:
        page = await open_portal(browser, port, frontend_token(demo["suggested"]), problems)
        # Every control and figure is named; every panel is labelled by its heading.
        unnamed = await page.evaluate(
            """() => [...document.querySelectorAll(
                          'button, [role=progressbar], [role=img], section')]
                  .filter(e => !(e.getAttribute('aria-label') || e.getAttribute('aria-labelledby')
                                 || e.textContent.trim()))
                  .map(e => e.outerHTML.slice(0, 80))"""
        )
        assert unnamed == []
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.className") == "skip"
        await page.keyboard.press("Enter")
        assert await page.evaluate("document.activeElement.id") == "main"
        await page.evaluate(axe.read_text())  # evaluated by the driver: the page's CSP allows it
        result = await page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length}))"
        )
        await page.set_viewport_size({"width": 375, "height": 800})  # a phone
        await shot(page, "phone")
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth > document.documentElement.clientWidth"
        )
        await page.close()
    serious = [v for v in result if v["impact"] in ("serious", "critical")]
    assert serious == [], serious
    assert overflow is False, "the page scrolls sideways on a phone"
    assert problems == [], problems


# The panels' own renderers, given the page's own fragments emptied where a panel leaves
# something out: no seat held, a suggestion without gains, a term with no benefit used.
EMPTY_CASES = """async () => {
  const panels = await import(document.querySelector("script[type=module]").src
                                .replace(/portal\\.js$/, "panels.js"));
  const own = structuredClone(window.portal.panels);
  const seats = own.SeatsPanel.account.seats;
  Object.assign(seats, {assigned: 0, free: seats.purchased, holders: []});
  own.SuggestionPanel.account.suggestion.gains = [];
  const impact = own.RenewalPanel.impactSummary;
  if (impact.__typename !== "ImpactSummary") throw new Error(JSON.stringify(impact));
  impact.benefitsUsed = [];
  const actions = {accept() {}, dismiss() {}};
  const shown = {};
  for (const [name, render] of [["SeatsPanel", panels.seats],
      ["SuggestionPanel", panels.suggestion], ["RenewalPanel", panels.renewal]]) {
    const body = document.createElement("div");
    render(body, own[name], actions);
    shown[name] = body.textContent;
  }
  return shown;
}"""


async def test_panels_with_nothing_to_list_show_no_null_text(
    demo: dict[str, Any], serve_live: ServeLive, browser: Any
) -> None:
    """`replaceChildren(..., cond ? el : null)` appended the text "null": after "0 of 40
    seats assigned" with no seat held, in a suggestion without gains, in a term's impact
    with no benefit used."""
    problems: list[str] = []
    async with serve_live(portal=True) as port:
        page = await open_portal(browser, port, frontend_token(demo["suggested"]), problems)
        shown = await page.evaluate(EMPTY_CASES)
        whole = await page.inner_text("main")
        await page.close()

    assert "seats assigned" in shown["SeatsPanel"], shown
    assert "more a month" in shown["SuggestionPanel"], shown
    assert "Benefits used: 0" in shown["RenewalPanel"], shown
    for name, text in shown.items():
        assert "null" not in text, (name, text)
    assert "null" not in whole
    assert problems == [], problems


SELF_SERVE_PREVIEW = (DOCUMENTS / "SelfServePreview.graphql").read_text()


async def _plain_account(conn: asyncpg.Connection) -> UUID:
    """An active demo account above the ladder's first rung, with nothing scheduled."""
    account: UUID = await conn.fetchval(
        """select s.account_id from subscriptions s
           join tier_versions v on v.id = s.tier_version_id join tiers t on t.key = v.tier_key
           where s.status = 'active' and t.rank > 0 and s.scheduled_change_at is null
             and not s.cancel_at_period_end and s.trial_ends_at is null
           order by s.account_id limit 1"""
    )
    assert account is not None, "the demo data has a plain paid account"
    return account


async def test_a_customer_previews_then_takes_the_self_serve_actions_the_policy_offers(
    demo: dict[str, Any],
    conn: asyncpg.Connection,
    serve_live: ServeLive,
    make_api: MakeApi,
    browser: Any,
) -> None:
    account = await _plain_account(conn)
    token = frontend_token(account)
    problems: list[str] = []
    async with serve_live(portal=True) as port:  # the default policy offers nothing
        page = await open_portal(browser, port, token, problems)
        plan = page.locator("#panel-plan")
        assert await plan.locator("[data-action]").count() == 0
        assert "account manager" in await plan.inner_text()
        await page.close()
    async with serve_live(portal=True, self_serve=frozenset({"downgrade", "cancel"})) as port:
        page = await open_portal(browser, port, token, problems)
        plan = page.locator("#panel-plan")
        offered = {
            await b.get_attribute("data-action") for b in await plan.locator("[data-action]").all()
        }
        assert offered == {"SCHEDULE_DOWNGRADE", "CANCEL_AT_PERIOD_END"}

        # A downgrade: the preview's price is the API's, and confirming schedules it.
        downgrade = plan.locator("[data-action=SCHEDULE_DOWNGRADE]").first
        tier = await downgrade.get_attribute("data-offer-tier")
        await downgrade.click()
        await plan.locator("[data-preview=SCHEDULE_DOWNGRADE]").wait_for(timeout=15_000)
        asked = {"id": str(account), "action": "SCHEDULE_DOWNGRADE", "tier": tier, "term": None}
        async with make_api(self_serve=frozenset({"downgrade"})) as api:
            answer = await api.data(SELF_SERVE_PREVIEW, asked, auth=token)
        expected = answer["selfServePreview"]
        shown = await plan.locator("[data-next-price]").get_attribute("data-next-price")
        assert shown == str(expected["nextPeriod"]["price"]["amountCents"])
        await shot(page, "self-serve-preview")
        await plan.get_by_role("button", name="Confirm").click()
        await plan.locator("[data-plan=scheduled]").wait_for(timeout=15_000)
        # Keep the plan after all, then cancel at the period's end and undo it, by keyboard.
        for action, then in [
            ("CANCEL_SCHEDULED_CHANGE", "[data-action=SCHEDULE_DOWNGRADE]"),
            ("CANCEL_AT_PERIOD_END", "[data-plan=ending]"),
            ("UNDO_CANCEL", "[data-action=CANCEL_AT_PERIOD_END]"),
        ]:
            await plan.locator(f"[data-action={action}]").focus()
            await page.keyboard.press("Enter")
            await plan.locator(f"[data-confirm={action}]").wait_for(timeout=15_000)
            # The confirmation takes the focus (and keeps it through a live redraw), so
            # Enter confirms what was previewed.
            assert await page.evaluate("document.activeElement.dataset.confirm") == action
            await page.keyboard.press("Enter")
            await plan.locator(then).first.wait_for(timeout=15_000)
        await shot(page, "self-serve-done")
        await page.close()
    entries = await conn.fetch(
        "select actor, action, reason from audit_log where account_id = $1 and actor = 'user-1'"
        " order by id",
        account,
    )
    assert [(e["action"], e["reason"]) for e in entries] == [
        ("subscription.downgrade_scheduled", "self-serve"),
        ("subscription.scheduled_change_canceled", "self-serve"),
        ("subscription.cancel_scheduled", "self-serve"),
        ("subscription.reactivated", "self-serve"),
    ]
    assert problems == [], problems


async def test_the_page_may_open_sockets_to_the_service_only(
    serve_live: ServeLive, browser: Any
) -> None:
    async with serve_live(portal=True) as port:
        page = await browser.new_page()
        await page.goto(f"http://127.0.0.1:{port}/portal")
        # Another host, listening: the policy's `ws: wss:` let the page (and the token it
        # keeps) reach any. Its own socket is followed live by the test above.
        answer = await socket_elsewhere(page, f"ws://localhost:{port}/graphql")

    assert answer == "refused: connect-src"
