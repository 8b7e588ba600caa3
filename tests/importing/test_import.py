"""`benefitgate import` from CSV files, run as a vendor would run it: valid rows land with
their audit entries and events, each refused row is reported by line, column and reason,
a re-run changes nothing, a dry run writes nothing, and a file that cannot be read stops
with the line where it went wrong."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from tests.fixtures import factories


def _run(dsn: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = Path(sys.executable).parent / "benefitgate"
    return subprocess.run(  # noqa: S603 (the project's own CLI)
        [str(command), "import", *args],
        capture_output=True, text=True, env={**os.environ, "DATABASE_URL": dsn}, check=False,
    )  # fmt: skip


async def test_accounts_land_refused_rows_are_reported_and_a_rerun_changes_nothing(
    dsn: str, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    partner = await factories.partner(conn)
    file = tmp_path / "accounts.csv"
    file.write_text(
        "external_id,name,metadata,partner_ids\n"
        f'cus_1,Acme,"{{""plan"": ""gold""}}",{partner}\n'
        "cus_2,Globex,,\n"
        "cus_1,Acme again,,\n"
        f"cus_3,Initech,,{uuid.uuid4()}\n"
        "cus_4,,,\n"
        'cus_5,Hooli,"[1]",\n'
        "cus_6,Umbrella,,,extra\n"
        "cus_7,Wayne,,\n",
        encoding="utf-8",
    )

    dry = _run(dsn, "accounts", str(file), "--dry-run")
    assert await conn.fetchval("select count(*) from accounts") == 0
    first = _run(dsn, "accounts", str(file))
    again = _run(dsn, "accounts", str(file))

    assert dry.returncode == 2 and "would create 3 accounts" in dry.stdout
    assert (
        first.returncode == 2
        and "created 3 accounts, 0 already there, 5 rows refused" in first.stdout
    )
    assert sorted(first.stderr.splitlines()) == [
        "  line 4, external_id: appears earlier in the file",
        "  line 5, partner_ids: unknown partner",
        "  line 6, name: give a name of 1 to 200 characters",
        "  line 7, metadata: not a JSON object",
        "  line 8, -: the row has another number of fields than the header",
    ]
    assert "created 0 accounts, 3 already there" in again.stdout
    rows = await conn.fetch("select external_id, name, metadata from accounts order by 1")
    assert [(r["external_id"], r["name"]) for r in rows] == [
        ("cus_1", "Acme"), ("cus_2", "Globex"), ("cus_7", "Wayne")
    ]  # fmt: skip
    assert rows[0]["metadata"] == {"plan": "gold"}
    linked = await conn.fetchval(
        "select count(*) from partner_accounts where partner_id = $1", partner
    )
    audit = await conn.fetchval("select count(*) from audit_log where action = 'account.created'")
    events = await conn.fetchval("select count(*) from events where type = 'account.created'")
    assert (linked, audit, events) == (1, 3, 3)
    link_events = await conn.fetchval(
        "select count(*) from events where type = 'partner.account_linked'"
    )
    assert link_events == 1


async def test_metadata_holding_a_nul_is_a_refused_row_and_the_rest_lands(
    dsn: str, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    """A NUL escaped in a cell's JSON (the file itself holds none) reaches no statement:
    Postgres text cannot hold one, and the whole import used to stop on it."""
    file = tmp_path / "accounts.csv"
    file.write_text(
        "external_id,name,metadata\n"
        "imp_ok,Fine,\n"
        'imp_value,Delta,"{""k"": ""v\\u0000""}"\n'
        'imp_key,Echo,"{""k\\u0000"": ""v""}"\n'
        "imp_last,Foxtrot,\n",
        encoding="utf-8",
    )

    ran = _run(dsn, "accounts", str(file))

    assert ran.returncode == 2, ran.stderr
    assert "created 2 accounts, 0 already there, 2 rows refused" in ran.stdout
    refused = sorted(ran.stderr.splitlines())
    assert [line[:52] for line in refused] == [
        "  line 3, metadata: text cannot hold a NUL character",
        "  line 4, metadata: text cannot hold a NUL character",
    ], ran.stderr
    names = await conn.fetch("select external_id from accounts order by 1")
    assert [r["external_id"] for r in names] == ["imp_last", "imp_ok"]


async def test_subscriptions_land_for_accounts_named_by_external_id(
    dsn: str, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    await factories.catalog(conn)
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("external_id,name\ncus_1,Acme\ncus_2,Globex\ncus_3,Initech\n")
    assert _run(dsn, "accounts", str(accounts)).returncode == 0
    subs = tmp_path / "subscriptions.csv"
    subs.write_text(
        "external_id,tier,term,seats,trial_days\n"
        "cus_1,pro,monthly,5,\n"
        "cus_2,gold,monthly,5,\n"
        "cus_2,basic,weekly,5,\n"
        "cus_2,basic,annual,-3,\n"
        "cus_9,basic,annual,3,\n"
        "cus_3,basic,annual,3,14\n"
        "cus_1,basic,annual,3,\n"
    )

    first = _run(dsn, "subscriptions", str(subs))
    again = _run(dsn, "subscriptions", str(subs))

    assert "created 2 subscriptions" in first.stdout, first.stdout + first.stderr
    reasons = sorted(line.strip() for line in first.stderr.splitlines())
    assert [r.split(":")[0] for r in reasons] == [
        "line 3, tier", "line 4, term", "line 5, seats", "line 6, external_id",
        "line 8, external_id",
    ]  # fmt: skip
    assert "created 0 subscriptions, 2 already there" in again.stdout
    rows = await conn.fetch(
        """select a.external_id, s.status, s.seats from subscriptions s
           join accounts a on a.id = s.account_id order by 1"""
    )
    assert [tuple(r) for r in rows] == [("cus_1", "active", 5), ("cus_3", "trialing", 3)]


async def test_a_subscription_starting_later_than_now_is_a_refused_row(
    dsn: str, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    await factories.catalog(conn)
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("external_id,name\ncus_1,Acme\ncus_2,Globex\n")
    assert _run(dsn, "accounts", str(accounts)).returncode == 0
    now = datetime.now(UTC)  # the CLI runs on real time
    ahead, back = now + timedelta(days=2), now - timedelta(days=3)
    subs = tmp_path / "subscriptions.csv"
    subs.write_text(
        "external_id,tier,term,seats,starts_at\n"
        f"cus_1,basic,monthly,2,{ahead.isoformat()}\n"
        f"cus_2,basic,monthly,2,{back.isoformat()}\n"
    )

    done = _run(dsn, "subscriptions", str(subs))

    assert done.returncode == 2 and "created 1 subscription, " in done.stdout, done.stdout
    assert done.stderr.splitlines()[-1].strip() == (
        "line 2, starts_at: a subscription cannot start later than now: create it when it starts"
    )
    rows = await conn.fetch(
        "select a.external_id from subscriptions s join accounts a on a.id = s.account_id"
    )
    assert [r["external_id"] for r in rows] == ["cus_2"]


async def test_a_file_that_cannot_be_read_stops_with_the_line(
    dsn: str, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    latin = tmp_path / "latin.csv"
    latin.write_bytes("external_id,name\ncus_1,Acme\ncus_2,Soci\xe9t\xe9\n".encode("latin-1"))
    cut = tmp_path / "cut.csv"
    cut.write_text('external_id,name\ncus_1,Acme\ncus_2,"Glo')
    header = tmp_path / "header.csv"
    header.write_text("id,name\n1,Acme\n")

    answers = [_run(dsn, "accounts", str(f)) for f in (latin, cut, header)]

    assert [a.returncode for a in answers] == [1, 1, 1]
    assert "line 3: the file is not UTF-8" in answers[0].stderr
    assert "line 3" in answers[1].stderr
    assert "line 1: the header lacks external_id" in answers[2].stderr
    assert await conn.fetchval("select count(*) from accounts") == 0


async def test_a_header_naming_a_column_twice_stops_the_import_naming_it(
    dsn: str, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    # The last `name` was taken and the first dropped without a word.
    twice = tmp_path / "twice.csv"
    twice.write_text("external_id,name,name\ncus_1,Acme,Globex\n")
    subs = tmp_path / "subs.csv"
    subs.write_text("external_id,tier,term,seats,seats\ncus_1,basic,monthly,1,2\n")

    answers = [_run(dsn, "accounts", str(twice)), _run(dsn, "subscriptions", str(subs))]

    assert [a.returncode for a in answers] == [1, 1]
    assert "line 1: columns given twice: name" in answers[0].stderr
    assert "line 1: columns given twice: seats" in answers[1].stderr
    assert await conn.fetchval("select count(*) from accounts") == 0


async def test_empty_partner_ids_and_padded_external_ids_are_refused_rows(
    dsn: str, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    partner = await factories.partner(conn)
    file = tmp_path / "accounts.csv"
    file.write_text(
        "external_id,name,partner_ids\n"
        "cus_1,Acme,;;\n"  # was "no partners", while `nope` was refused
        f"cus_2,Globex,{partner};\n"
        f"cus_3,Initech,;{partner}\n"
        "cus_4,Hooli,nope\n"
        " cus_5 ,Umbrella,\n"  # was an account apart from cus_5
        "cus_6,Wayne,\n"
        f"cus_7,Stark,{partner}\n",
        encoding="utf-8",
    )

    result = _run(dsn, "accounts", str(file))

    assert result.returncode == 2, result
    refused = "give partner ids separated by ';', none empty"
    assert sorted(result.stderr.splitlines()) == [
        f"  line 2, partner_ids: {refused}",
        f"  line 3, partner_ids: {refused}",
        f"  line 4, partner_ids: {refused}",
        f"  line 5, partner_ids: {refused}",
        "  line 6, external_id: give the id without blanks at either end",
    ]
    rows = await conn.fetch("select external_id from accounts order by 1")
    assert [r["external_id"] for r in rows] == ["cus_6", "cus_7"]
