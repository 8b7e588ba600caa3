"""Fixtures of the outbox tests."""

from __future__ import annotations

import asyncpg
import pytest

# Above every transaction id the cursor-order tests choose for their events.
_PAST_BOUNDARIES = 12_500


@pytest.fixture(scope="session")
async def xids_past_boundaries(server: str) -> None:
    """Move the server's transaction counter past the ids the tests choose, so that events
    written at those ids are visible (below every open transaction). A fresh server starts
    near 750; each autocommitted `pg_current_xact_id()` takes one id, once per server."""
    conn = await asyncpg.connect(server)
    try:
        while await conn.fetchval("select pg_current_xact_id()::text::bigint") < _PAST_BOUNDARIES:
            pass
    finally:
        await conn.close()
