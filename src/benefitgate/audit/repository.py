"""Every SQL statement of the audit log. The table only ever grows: the database refuses
updates and deletes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
import orjson

from benefitgate.audit.models import AuditEntry, AuditFilter, Target
from benefitgate.common.changes import ChangeContext

__all__ = ["append", "append_many", "entry", "later_entries", "search"]

_COLUMNS = """id, at, actor, action, target_kind, target_id, account_id, before, after, reason,
              request_id, rollback_of"""


def _entry(row: asyncpg.Record) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        at=row["at"],
        actor=row["actor"],
        action=row["action"],
        target=Target(row["target_kind"], row["target_id"], row["account_id"]),
        before=row["before"],
        after=row["after"],
        reason=row["reason"],
        request_id=row["request_id"],
        rollback_of=row["rollback_of"],
    )


async def append(
    conn: asyncpg.Connection,
    change: ChangeContext,
    action: str,
    target: Target,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    rollback_of: int | None = None,
) -> AuditEntry:
    row = await conn.fetchrow(
        f"""
        insert into audit_log (at, actor, action, target_kind, target_id, account_id, before,
                               after, reason, request_id, rollback_of)
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        returning {_COLUMNS}
        """,  # noqa: S608 (a constant column list, no input)
        change.at,
        change.actor,
        action,
        target.kind,
        target.id,
        target.account_id,
        before,
        after,
        change.reason,
        change.request_id,
        rollback_of,
    )
    return _entry(row)


async def entry(conn: asyncpg.Connection, entry_id: int) -> AuditEntry | None:
    row = await conn.fetchrow(
        f"select {_COLUMNS} from audit_log where id = $1",  # noqa: S608 (constant columns)
        entry_id,
    )
    return None if row is None else _entry(row)


async def later_entries(
    conn: asyncpg.Connection, target: Target, after_id: int
) -> list[AuditEntry]:
    """Entries about the same target written after `after_id`, oldest first."""
    rows = await conn.fetch(
        f"""
        select {_COLUMNS} from audit_log
        where target_kind = $1 and target_id = $2 and id > $3
        order by id
        """,  # noqa: S608 (a constant column list, no input)
        target.kind,
        target.id,
        after_id,
    )
    return [_entry(r) for r in rows]


async def search(
    conn: asyncpg.Connection, where: AuditFilter, before_id: int | None, limit: int
) -> list[AuditEntry]:
    """Entries matching every given field of `where`, newest first, below `before_id`."""
    rows = await conn.fetch(
        f"""
        select {_COLUMNS} from audit_log
        where ($1::uuid is null or account_id = $1)
          and ($2::text is null or actor = $2)
          and ($3::text is null or action = $3)
          and ($4::timestamptz is null or at >= $4)
          and ($5::timestamptz is null or at < $5)
          and ($6::bigint is null or id < $6)
        order by id desc
        limit $7
        """,  # noqa: S608 (a constant column list, no input)
        where.account_id,
        where.actor,
        where.action,
        where.since,
        where.until,
        before_id,
        limit,
    )
    return [_entry(r) for r in rows]


async def append_many(
    conn: asyncpg.Connection,
    change: ChangeContext,
    action: str,
    changes: Sequence[tuple[Target, dict[str, Any] | None, dict[str, Any] | None]],
) -> list[int]:
    """One entry per (target, before, after) of one change, in one statement, in order;
    returns their ids in that order."""
    if not changes:
        return []
    rows = await conn.fetch(
        """
        insert into audit_log (at, actor, action, target_kind, target_id, account_id, before,
                               after, reason, request_id)
        select $1, $2, $3, c.kind, c.id, c.account_id, c.before::jsonb, c.after::jsonb, $4, $5
        from unnest($6::text[], $7::text[], $8::uuid[], $9::text[], $10::text[])
             with ordinality as c(kind, id, account_id, before, after, n)
        order by c.n
        returning id
        """,
        change.at,
        change.actor,
        action,
        change.reason,
        change.request_id,
        [target.kind for target, _, _ in changes],
        [target.id for target, _, _ in changes],
        [target.account_id for target, _, _ in changes],
        [_json(before) for _, before, _ in changes],
        [_json(after) for _, _, after in changes],
    )
    return [r[0] for r in rows]


def _json(state: dict[str, Any] | None) -> str | None:
    return None if state is None else orjson.dumps(state).decode()
