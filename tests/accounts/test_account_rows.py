"""Account rows build their subscription positionally, so the column list must follow the
order of Subscription's fields; looked up by ids, they carry their partners."""

from __future__ import annotations

import dataclasses
import re
import uuid

import asyncpg

from benefitgate.accounts import repository
from benefitgate.accounts.models import Subscription
from tests.fixtures import factories


def test_subscription_columns_follow_the_fields_of_subscription() -> None:
    columns = re.findall(r"\bs\.(\w+)(?: as \w+)?", repository.ACCOUNT_COLUMNS)
    all_columns = [c.strip() for c in repository.ACCOUNT_COLUMNS.split(",")]
    assert all_columns[repository._SUBSCRIPTION_AT].startswith("s.id")
    # `ended` is what an object knows of the periods before, not a column: it comes last.
    fields = [f.name for f in dataclasses.fields(Subscription)]
    assert fields[-1] == "ended"
    assert columns == fields[:-1]


async def test_accounts_by_ids_carry_each_accounts_partners_as_the_view_columns_do(
    conn: asyncpg.Connection,
) -> None:
    """Looked up by ids, the partners come from one grouped read joined to the accounts
    (`_BY_IDS`); with external ids too, from ACCOUNT_COLUMNS' subquery: the same accounts."""
    cat = await factories.catalog(conn)
    basic = cat["versions"]["basic"]
    first, second = await factories.partner(conn, "One"), await factories.partner(conn, "Two")
    alone = await factories.account(conn, basic)
    managed = await factories.account(conn, basic, partner_id=first)
    shared = await factories.account(conn, basic, partner_id=first)
    await conn.execute("insert into partner_accounts values ($1, $2)", second, shared)
    bare = uuid.uuid4()
    await conn.execute("insert into accounts (id, name) values ($1, 'No subscription')", bare)
    ids = [alone, managed, shared, bare, uuid.uuid4()]

    by_ids = await repository.accounts_by_ids(conn, ids)
    with_external = await repository.accounts_by_ids(conn, ids, ["no-such-external-id"])

    partners = {a: frozenset(account.partner_ids) for a, account in by_ids.items()}
    assert partners == {
        alone: frozenset(),
        managed: frozenset({first}),
        shared: frozenset({first, second}),
        bare: frozenset(),
    }
    assert by_ids[bare].subscription is None and by_ids[alone].subscription is not None
    assert by_ids.keys() == with_external.keys()
    for account_id, account in with_external.items():
        assert dataclasses.replace(account, partner_ids=()) == dataclasses.replace(
            by_ids[account_id], partner_ids=()
        )
        assert frozenset(account.partner_ids) == partners[account_id]
