"""Every SQL statement of the glossary."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from benefitgate.glossary.models import GlossaryTerm

__all__ = ["delete", "lock", "terms", "upsert"]

_COLUMNS = "key, term, definition, example, version, updated_at"


def _term(row: asyncpg.Record) -> GlossaryTerm:
    return GlossaryTerm(**dict(row))


async def terms(conn: asyncpg.Connection) -> list[GlossaryTerm]:
    """Every term, alphabetically as a reader looks them up."""
    rows = await conn.fetch(
        f"""
        select {_COLUMNS} from glossary_terms order by lower(term), key
        """  # noqa: S608 (a constant column list, no input)
    )
    return [_term(r) for r in rows]


async def lock(conn: asyncpg.Connection, key: str) -> GlossaryTerm | None:
    """The term as it is, with its key locked to the end of the caller's transaction: an
    advisory lock, so that a key not defined yet is locked too and changes of one key
    (first definitions included) queue behind each other."""
    await conn.execute(
        "select pg_advisory_xact_lock(hashtextextended('glossary_term:' || $1, 0))", key
    )
    row = await conn.fetchrow(
        f"""
        select {_COLUMNS} from glossary_terms where key = $1
        """,  # noqa: S608 (a constant column list, no input)
        key,
    )
    return None if row is None else _term(row)


async def upsert(
    conn: asyncpg.Connection, key: str, term: str, definition: str, example: str, at: datetime
) -> GlossaryTerm | None:
    """Define or redefine the term; None when it already reads exactly so (no change)."""
    row = await conn.fetchrow(
        f"""
        insert into glossary_terms as g (key, term, definition, example, updated_at)
        values ($1, $2, $3, $4, $5)
        on conflict (key) do update
            set term = excluded.term, definition = excluded.definition,
                example = excluded.example, version = g.version + 1,
                updated_at = excluded.updated_at
            where (g.term, g.definition, g.example)
                  is distinct from (excluded.term, excluded.definition, excluded.example)
        returning {_COLUMNS}
        """,  # noqa: S608 (a constant column list, no input)
        key,
        term,
        definition,
        example,
        at,
    )
    return None if row is None else _term(row)


async def delete(conn: asyncpg.Connection, key: str) -> GlossaryTerm | None:
    row = await conn.fetchrow(
        f"""
        delete from glossary_terms where key = $1 returning {_COLUMNS}
        """,  # noqa: S608 (a constant column list, no input)
        key,
    )
    return None if row is None else _term(row)
