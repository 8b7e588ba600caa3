"""Self-service costs a fixed number of SQL statements: a preview reads the account (and,
for a trial, whether the account had one of the tier); an action adds the one transaction
every subscription change writes."""

from __future__ import annotations

import asyncpg

from tests.conftest import MakeApi, frontend_token
from tests.fixtures import factories
from tests.fixtures.selfserve_api import ACTIONS, ALL, act, preview
from tests.fixtures.statements import StatementLog

BY_ACTION = {case.action: case for case in ACTIONS}


async def test_a_preview_and_an_action_cost_a_fixed_number_of_statements(
    conn: asyncpg.Connection, make_api: MakeApi
) -> None:
    cat = await factories.catalog(conn)
    account_id = await factories.account(conn, cat["versions"]["basic"])
    token = frontend_token(account_id)
    trial, cancel = BY_ACTION["START_TRIAL"], BY_ACTION["CANCEL_AT_PERIOD_END"]
    log = StatementLog()
    counted: dict[str, list[str]] = {}
    async with make_api(on_connect=log.attach, pool_min=1, pool_max=1, self_serve=ALL) as api:
        await preview(api, token, cancel, account_id)  # warms the connection's type cache
        for name, call in [
            ("preview", preview(api, token, cancel, account_id)),
            ("trial preview", preview(api, token, trial, account_id)),
            ("cancel", act(api, token, cancel, account_id, 1, "k1")),
            ("undo", act(api, token, BY_ACTION["UNDO_CANCEL"], account_id, 2, "k2")),
            ("trial", act(api, token, trial, account_id, 3, "k3")),
        ]:
            log.statements.clear()
            answer = await call
            assert "code" not in answer, answer
            counted[name] = list(log.statements)
    # The account (with its subscription); for a trial, whether it had one of the tier.
    assert (len(counted["preview"]), len(counted["trial preview"])) == (1, 2)
    # The account; BEGIN, the idempotency key's lock and lookup, the subscription locked,
    # saved, its audit entry, its event, the key's result, COMMIT; for a trial, the read
    # of the trials before and the note of this one.
    assert (len(counted["cancel"]), len(counted["undo"]), len(counted["trial"])) == (10, 10, 12)
