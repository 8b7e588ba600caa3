"""Governance use cases: pages of an account's changes with their actors as the customer
sees them, and pages of its seat history. Reads only; two statements for the changes of
every account of a request (the entries, then the keys among their actors), one for the
seat history."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from benefitgate.governance import repository
from benefitgate.governance.actors import actor_of, key_ids
from benefitgate.governance.models import SeatMove, TrailEntry
from benefitgate.governance.repository import PageKey

__all__ = ["actor_names", "seat_history", "trails"]


async def trails(
    conn: asyncpg.Connection, pages: Sequence[PageKey], vendor: str
) -> list[list[TrailEntry]]:
    found = await repository.trail_pages(conn, pages)
    keys = key_ids(e.actor for page in found for e in page)
    holders = await repository.key_holders(conn, sorted(keys)) if keys else {}
    return [[TrailEntry(e, actor_of(e.actor, holders, vendor)) for e in page] for page in found]


async def seat_history(conn: asyncpg.Connection, pages: Sequence[PageKey]) -> list[list[SeatMove]]:
    return await repository.seat_moves(conn, pages)


async def actor_names(
    conn: asyncpg.Connection, actors: Sequence[str], vendor: str
) -> dict[str, str]:
    """Each actor as customers see it named (never a key id): one statement when any is
    an API key, none otherwise."""
    keys = key_ids(actors)
    holders = await repository.key_holders(conn, sorted(keys)) if keys else {}
    return {a: actor_of(a, holders, vendor).name for a in actors}
