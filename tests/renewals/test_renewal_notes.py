"""Renewal notes: the reminder event and the `renewalNote` query carry the term's value,
outcomes against targets, benefits used and unused, the renewal's changes and the open
suggestion, rendered as text and Markdown; figures checked against rows written here."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import asyncpg
import pytest

from benefitgate.renewals import reminders
from benefitgate.suggestions import rankings
from benefitgate.suggestions import repository as suggestion_rows
from benefitgate.suggestions.models import Proposal, Reason
from tests.conftest import Api, catalog_loader, frontend_token
from tests.fixtures import factories
from tests.fixtures.factories import NOW
from tests.fixtures.metering_api import CHECK

NOTE = """query Note($id: ID!) { renewalNote(accountId: $id) {
  __typename
  ... on RenewalNote { renewsAt daysLeft termFrom tier nextTier price { amountCents }
    nextPrice { amountCents } impact { valueDelivered { amountCents currency } }
    benefitsUsed { key } benefitsUnused { key } changes suggestion { tierKey: tier { key } }
    text markdown }
  ... on Error { code message } } }"""
TERM_START = (NOW - timedelta(days=10)).date()  # the factory's period


async def _term(conn: asyncpg.Connection, account: uuid.UUID) -> dict[str, Any]:
    """An included feature never checked (b3, a name with Markdown in it), a limit pack on
    m0 used this term, m1 measuring an outcome worth 50.00 a unit with a target, the
    tier's next version dearer, and an open suggestion of pro."""
    await conn.execute(
        """insert into benefits (key, name, kind, outcome_key, impact_amount, impact_unit,
                                 metric_key, introduced_on)
           values ('b3', 'Dash*boards [beta]', 'feature', 'hours_saved', 3, 'hours a week',
                   null, '2025-01-01'),
                  ('m0_pack', 'M0 pack', 'limit', null, null, null, 'm0', '2025-01-01')"""
    )
    basic = await conn.fetchval(
        "select tier_version_id from subscriptions where account_id = $1", account
    )
    await conn.execute("insert into tier_benefits values ($1, 'b3', '{}')", basic)
    await factories.grant(conn, account, "m0_pack", source="addon", amount=50)
    m1 = {TERM_START + timedelta(days=n): float(n + 1) for n in range(0, 10, 3)}
    before = {TERM_START - timedelta(days=3): 500.0}  # last term: not this note's
    await conn.copy_records_to_table(
        "usage_daily",
        records=[(account, "m1", d, v) for d, v in {**m1, **before}.items()]
        + [(account, "m0", TERM_START + timedelta(days=2), 7.0)],
        columns=["account_id", "metric_key", "day", "value"],
    )
    # The term's counters, as ingest writes them beside the daily buckets: the note's
    # figures count from the term's start instant (NOW - 10 days, at noon) by them.
    await factories.usage(conn, account, "m1", sum(m1.values()))
    await factories.usage(conn, account, "m0", 7.0)
    await conn.execute(
        """update outcomes set metric_key = 'm1', value_per_unit_cents = 5000,
           value_currency = 'USD' where key = 'hours_saved'"""
    )
    await conn.execute(
        "insert into outcome_targets values ($1, 'hours_saved', 100, $2, $3, '', 'ops', $4)",
        account,
        TERM_START,
        TERM_START + timedelta(days=29),
        NOW,
    )
    await conn.execute(
        """insert into tier_versions (tier_key, version, value_narrative, currency,
           monthly_price_cents, annual_price_cents, support_level,
           support_first_response_hours, support_channels, effective_from, published_at)
           values ('basic', 2, 'new', 'USD', 1200, 12000, 'standard', 24, '{email}', $1, $1)""",
        NOW - timedelta(days=1),
    )
    pro = await conn.fetchval("select id from tier_versions where tier_key = 'pro'")
    reason = Reason("limit_pressure", "m0", "m0 reached 95% of the 100 calls limit", weight=0.45)
    proposal = Proposal(account, "pro", pro, basic, (reason,), (), 0.45, "USD", 4000, 40000)
    async with conn.transaction():
        await suggestion_rows.insert(conn, proposal, NOW, await rankings.begin_round(conn))
    return {"m1": sum(m1.values())}


async def test_the_reminder_carries_the_note_and_the_query_shows_the_same(
    conn: asyncpg.Connection, pool: asyncpg.Pool, api: Api
) -> None:
    cat = await factories.catalog(conn, benefits=3)
    account = await factories.account(conn, cat["versions"]["basic"])
    other = await factories.account(conn, cat["versions"]["basic"])
    figures = await _term(conn, account)
    token = frontend_token(account)
    check = await api.data(CHECK, {"id": str(account), "feature": "b0"}, auth=token)
    assert check["entitlementCheck"]["allowed"] is True
    await api.flush_denials()

    assert await reminders.send_due(pool, catalog_loader(pool), NOW) == 2  # both accounts
    payload = await conn.fetchval(
        "select payload from events where type = 'renewal.reminder' and account_id = $1", account
    )
    assert payload["daysBefore"] == 30 and payload["termFrom"] == TERM_START.isoformat()
    worth = round(figures["m1"] * 5000)
    assert payload["valueDelivered"] == {"amountCents": worth, "currency": "USD"}
    assert payload["outcomes"] == [
        {
            "outcome": "hours_saved",
            "delivered": figures["m1"],
            "target": 100.0,
            "percent": figures["m1"],  # of a target of 100
            "met": False,
        }
    ]
    assert payload["benefitsUsed"] == ["b0", "m0_pack"]
    assert payload["benefitsUnused"] == ["b3"]  # the pack was granted a day ago: too new
    assert "Price per monthly term: 10.00 USD -> 12.00 USD." in payload["changes"]
    assert payload["suggestion"]["tier"] == "pro"
    text, markdown = payload["text"], payload["markdown"]
    assert f"- Estimated value delivered: {worth / 100:,.2f} USD." in text
    assert "- Not used yet this term: Dash*boards [beta] (it moves 3 hours a week)." in text
    assert "- Suggested: Pro (40.00 USD more per month, confidence 45%)." in text
    assert "- Why: m0 reached 95% of the 100 calls limit." in text
    assert r"Dash\*boards \[beta\]" in markdown and markdown.startswith("# Acme: your Basic")

    note = (await api.data(NOTE, {"id": str(account)}, auth=token))["renewalNote"]
    assert (note["text"], note["markdown"]) == (text, markdown)
    assert note["benefitsUnused"] == [{"key": "b3"}] and note["daysLeft"] == 20
    assert (note["price"], note["nextPrice"]) == ({"amountCents": 1000}, {"amountCents": 1200})
    assert note["impact"]["valueDelivered"] == payload["valueDelivered"]
    hidden = await api.data(NOTE, {"id": str(other)}, auth=token)
    assert hidden["renewalNote"]["code"] == "NOT_FOUND"


async def test_an_account_that_will_not_renew_has_no_note(
    conn: asyncpg.Connection, api: Api
) -> None:
    cat = await factories.catalog(conn)
    account = await factories.account(conn, cat["versions"]["basic"])
    await conn.execute(
        "update subscriptions set cancel_at_period_end = true where account_id = $1", account
    )
    found = await api.data(NOTE, {"id": str(account)}, auth=frontend_token(account))
    assert found["renewalNote"] == {
        "__typename": "NotFoundError",
        "code": "NOT_FOUND",
        "message": "renewal not found",
    }


async def test_reminders_in_batches_reach_every_account_once(
    conn: asyncpg.Connection, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches smaller than the accounts due: every account once, however many runs race."""
    import asyncio

    monkeypatch.setattr(reminders, "BATCH", 2)
    cat = await factories.catalog(conn)
    accounts = {await factories.account(conn, cat["versions"]["basic"]) for _ in range(5)}
    load = catalog_loader(pool)
    sent = await asyncio.gather(*(reminders.send_due(pool, load, NOW) for _ in range(3)))
    assert sum(sent) == 5
    rows = await conn.fetch(
        "select account_id, payload from events where type = 'renewal.reminder'"
    )
    assert sorted(r["account_id"] for r in rows) == sorted(accounts)
    assert all(r["payload"]["text"].startswith("Acme: your Basic plan renews on") for r in rows)
    assert await reminders.send_due(pool, load, NOW + timedelta(days=1)) == 0
    assert date.fromisoformat(rows[0]["payload"]["termFrom"]) == TERM_START


# Every line break str.splitlines knows, and runs of spaces and tabs.
BREAKS = ["\n", "\r\n", "\r", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


async def test_a_name_with_line_breaks_stays_on_its_line_in_both_renderings(
    conn: asyncpg.Connection, api: Api
) -> None:
    """Account and catalog names may hold line breaks; in a note they would start lines of
    their own (a Markdown heading or code block, a fake notice in the plain text). Each
    item of the note stays one line, in the query's answer as in the reminder's."""
    cat = await factories.catalog(conn, benefits=3)
    account = await factories.account(conn, cat["versions"]["basic"])
    await _term(conn, account)
    injected = "".join(f"{b}# Action required{b}    code  \t" for b in BREAKS)
    await conn.execute("update accounts set name = $1 where id = $2", "Acme" + injected, account)
    await conn.execute("update benefits set name = $1 where key = 'b3'", "Dash" + injected)
    note = await api.data(NOTE, {"id": str(account)}, auth=frontend_token(account))
    text, markdown = note["renewalNote"]["text"], note["renewalNote"]["markdown"]
    flat = " # Action required code" * len(BREAKS)
    assert text.startswith(f"Acme{flat} : your Basic plan renews on ")
    assert f"- Not used yet this term: Dash{flat} (it moves 3 hours a week)." in text
    assert markdown.startswith(r"# Acme # Action required code")
    changes = note["renewalNote"]["changes"]
    assert any("Dash # Action required code" in line for line in changes), changes
    for rendered in (text, markdown, *changes):
        assert not any(b in rendered for b in BREAKS[1:]) and "  " not in rendered
    for line in markdown.splitlines():
        assert line == "" or line.startswith(("# ", "## ", "- ")), line
    lines = text.splitlines()
    assert len(lines[1]) == len(lines[0]) and set(lines[1]) == {"="}
    for line in lines[2:]:
        assert line == "" or line.startswith("- ") or not line.startswith((" ", "#")), line
