"""`benefitgate import` of files larger than a batch, alone and racing the API: every
externalId ends with exactly one account (and one subscription), each created object has
exactly one audit entry and one event naming it, refused rows in any batch are reported in
line order while the valid ones land, and a re-run changes nothing."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg

from benefitgate.auth.principals import Role
from benefitgate.importing.runner import BATCH
from tests.conftest import Api, api_key
from tests.fixtures import factories

ROWS = 2 * BATCH + BATCH // 2  # three batches, the last one partial
ACCOUNT_CREATE = """mutation($ext: String!, $key: String!) {
  accountCreate(externalId: $ext, name: "From the API", idempotencyKey: $key) {
    __typename ... on AccountProvisioned { account { id } } ... on AlreadyExistsError {
    existingId } ... on Error { code message } } }"""
SUBSCRIPTION_CREATE = """mutation($id: ID!, $key: String!) {
  subscriptionCreate(accountId: $id, tier: "pro", term: MONTHLY, seats: 2, trialDays: 0,
                     idempotencyKey: $key) {
    __typename ... on SubscriptionChanged { subscription { version } }
    ... on AlreadyExistsError { existingId } ... on Error { code message } } }"""


async def _import(dsn: str, *args: str) -> tuple[int, str, str]:
    """Run the CLI without blocking this event loop, so API calls can race it."""
    command = Path(sys.executable).parent / "benefitgate"
    process = await asyncio.create_subprocess_exec(
        str(command), "import", *args,
        env={**os.environ, "DATABASE_URL": dsn},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def _in_waves(calls: list[Any], width: int = 8) -> list[Any]:
    """Await the coroutines `width` at a time, in the order given."""
    answers = []
    for first in range(0, len(calls), width):
        answers += await asyncio.gather(*calls[first : first + width])
    return answers


async def _race(
    dsn: str, kind: str, file: Path, calls: list[Any], won_as: str
) -> list[dict[str, Any]]:
    """Import `file` while the API calls run; the import counts as already there exactly
    the objects the API created (answered `won_as`), and a re-run changes nothing. Returns
    the API's answers in the order of `calls`."""
    (code, out, err), answers = await asyncio.gather(
        _import(dsn, kind, str(file)), _in_waves(calls)
    )
    again = await _import(dsn, kind, str(file))

    assert (code, err) == (0, ""), out + err
    made: list[dict[str, Any]] = [next(iter(a.values())) for a in answers]
    won = sum(m["__typename"] == won_as for m in made)
    assert f"created {ROWS - won} {kind}, {won} already there, 0 rows refused" in out
    assert again[0] == 0 and f"created 0 {kind}, {ROWS} already there" in again[1]
    return made


async def _one_record_each(conn: asyncpg.Connection, kind: str, action: str, event: str) -> None:
    """Every object of `kind` has exactly one `action` entry, and exactly one `event` whose
    auditEntryId names that entry."""
    table = {"account": "accounts", "subscription": "subscriptions"}[kind]
    wrong = await conn.fetchval(
        f"""with entries as (
                select target_id, count(*) as n, min(id) as id from audit_log
                where target_kind = $1 and action = $2 group by target_id),
            reported as (
                select (payload ->> 'auditEntryId')::bigint as entry_id, count(*) as n
                from events where type = $3 group by 1)
            select count(*) from {table} o
            left join entries l on l.target_id = o.id::text
            left join reported r on r.entry_id = l.id
            where l.n is distinct from 1 or r.n is distinct from 1""",  # noqa: S608 (a table name from the mapping above)
        kind,
        action,
        event,
    )
    assert wrong == 0


async def test_a_file_racing_api_creates_of_its_external_ids_makes_one_account_each(
    dsn: str, conn: asyncpg.Connection, api: Api, tmp_path: Path
) -> None:
    key = await api_key(conn, Role.OPERATOR)
    file = tmp_path / "accounts.csv"
    file.write_text("external_id,name\n" + "".join(f"cus_{n},Customer {n}\n" for n in range(ROWS)))
    # From the end of the file backwards: some land before the import reaches them, some
    # while it writes their batch, some after it created them.
    raced = [f"cus_{n}" for n in range(ROWS - 1, -1, -97)]
    calls = [api.data(ACCOUNT_CREATE, {"ext": e, "key": uuid.uuid4().hex}, auth=key) for e in raced]

    made = await _race(dsn, "accounts", file, calls, "AccountProvisioned")

    ids = {r[0]: str(r[1]) for r in await conn.fetch("select external_id, id from accounts")}
    assert len(ids) == ROWS == await conn.fetchval("select count(*) from accounts")
    for external_id, m in zip(raced, made, strict=True):
        if m["__typename"] == "AccountProvisioned":
            assert m["account"]["id"] == ids[external_id]
        else:
            assert (m["__typename"], m["existingId"]) == ("AlreadyExistsError", ids[external_id])
    await _one_record_each(conn, "account", "account.created", "account.created")


async def test_a_file_racing_api_creates_of_its_subscriptions_makes_one_subscription_each(
    dsn: str, conn: asyncpg.Connection, api: Api, tmp_path: Path
) -> None:
    await factories.catalog(conn)
    key = await api_key(conn, Role.OPERATOR)
    accounts, subs = tmp_path / "accounts.csv", tmp_path / "subscriptions.csv"
    accounts.write_text("external_id,name\n" + "".join(f"cus_{n},C {n}\n" for n in range(ROWS)))
    subs.write_text(
        "external_id,tier,term,seats\n" + "".join(f"cus_{n},basic,annual,3\n" for n in range(ROWS))
    )
    assert (await _import(dsn, "accounts", str(accounts)))[0] == 0
    ids = {r[0]: r[1] for r in await conn.fetch("select external_id, id from accounts")}
    raced = [ids[f"cus_{n}"] for n in range(ROWS - 1, -1, -97)]
    calls = [
        api.data(SUBSCRIPTION_CREATE, {"id": str(a), "key": uuid.uuid4().hex}, auth=key)
        for a in raced
    ]

    made = await _race(dsn, "subscriptions", subs, calls, "SubscriptionChanged")

    rows = await conn.fetch("select account_id, id, seats from subscriptions")
    subscribed = {r[0]: (str(r[1]), r[2]) for r in rows}
    assert len(rows) == len(subscribed) == ROWS
    for account, m in zip(raced, made, strict=True):
        if m["__typename"] == "SubscriptionChanged":
            assert subscribed[account][1] == 2  # the API's
        else:
            assert (m["__typename"], m["existingId"]) == (
                "AlreadyExistsError",
                subscribed[account][0],
            )
    await _one_record_each(conn, "subscription", "subscription.created", "subscription.changed")


async def test_refused_rows_in_every_batch_are_reported_in_line_order_while_the_rest_lands(
    dsn: str, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    lines = [f"cus_{n},Customer {n}" for n in range(ROWS)]
    bad = {  # line number in the file (the header is line 1) -> row and expected report
        3: ("cus_x,", "line 3, name: give a name of 1 to 200 characters"),
        BATCH + 1: ("cus_0,Again", f"line {BATCH + 1}, external_id: appears earlier in the file"),
        BATCH + 7: ("cus_y,Y,z", f"line {BATCH + 7}, -: the row has another number of fields"
                                 " than the header"),
        ROWS: (",Nameless", f"line {ROWS}, external_id: give 1 to 255 characters"),
    }  # fmt: skip
    for line, (row, _) in bad.items():
        lines[line - 2] = row
    file = tmp_path / "accounts.csv"
    file.write_text("external_id,name\n" + "\n".join(lines) + "\n")

    code, out, err = await _import(dsn, "accounts", str(file))

    assert code == 2
    assert err.splitlines() == [f"  {reason}" for _, reason in bad.values()]
    assert f"created {ROWS - len(bad)} accounts, 0 already there, {len(bad)} rows refused" in out
    assert await conn.fetchval("select count(*) from accounts") == ROWS - len(bad)
    await _one_record_each(conn, "account", "account.created", "account.created")
