"""Every SQL statement of webhooks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from benefitgate.events import readable
from benefitgate.events.outbox import Cursor
from benefitgate.webhooks.models import Attempt, Endpoint

__all__ = [
    "Lease",
    "Sealed",
    "advance",
    "attempts_page",
    "backlog",
    "claim_due",
    "delete",
    "endpoint",
    "endpoints",
    "insert",
    "lock",
    "log_attempt",
    "manages",
    "postpone",
    "record_attempt",
    "release",
    "sealed_secrets",
    "set_cursor",
    "set_secret",
    "set_status",
    "update",
]

_COLUMNS = """id, partner_id, url, description, event_types, account_ids, status,
    disabled_reason, cursor_txid, cursor_id, attempts, failing_since, next_attempt_at,
    version, created_at"""


def _endpoint(row: asyncpg.Record) -> Endpoint:
    types, accounts = row["event_types"], row["account_ids"]
    return Endpoint(
        id=row["id"],
        partner_id=row["partner_id"],
        url=row["url"],
        description=row["description"],
        event_types=None if types is None else tuple(types),
        account_ids=None if accounts is None else tuple(accounts),
        status=row["status"],
        disabled_reason=row["disabled_reason"],
        cursor=Cursor(row["cursor_txid"], row["cursor_id"]),
        attempts=row["attempts"],
        failing_since=row["failing_since"],
        next_attempt_at=row["next_attempt_at"],
        version=row["version"],
        created_at=row["created_at"],
    )


async def insert(
    conn: asyncpg.Connection,
    partner_id: UUID | None,
    url: str,
    description: str,
    event_types: Sequence[str] | None,
    account_ids: Sequence[UUID] | None,
    secret: bytes,
    start: Cursor,
    now: datetime,
) -> Endpoint:
    row = await conn.fetchrow(
        f"""
        insert into webhook_endpoints (partner_id, url, description, event_types, account_ids,
            secret, cursor_txid, cursor_id, created_at, updated_at)
        values ($1, $2, $3, $4, $5, $6, $7::xid8, $8, $9, $9)
        returning {_COLUMNS}
        """,  # noqa: S608 (the column list is a constant)
        partner_id,
        url,
        description,
        event_types,
        account_ids,
        secret,
        start.txid,
        start.id,
        now,
    )
    return _endpoint(row)


async def endpoint(
    conn: asyncpg.Connection, endpoint_id: UUID, *, lock: bool = False
) -> Endpoint | None:
    row = await conn.fetchrow(
        f"select {_COLUMNS} from webhook_endpoints where id = $1"  # noqa: S608
        + (" for update" if lock else ""),
        endpoint_id,
    )
    return None if row is None else _endpoint(row)


async def lock(conn: asyncpg.Connection, endpoint_id: UUID) -> Endpoint | None:
    return await endpoint(conn, endpoint_id, lock=True)


async def endpoints(conn: asyncpg.Connection, partner_id: UUID | None) -> list[Endpoint]:
    """Every endpoint (partner_id None), or a partner's own, oldest first."""
    rows = await conn.fetch(
        f"""select {_COLUMNS} from webhook_endpoints
            where $1::uuid is null or partner_id = $1 order by created_at, id""",  # noqa: S608
        partner_id,
    )
    return [_endpoint(r) for r in rows]


async def update(
    conn: asyncpg.Connection,
    endpoint_id: UUID,
    url: str,
    description: str,
    event_types: Sequence[str] | None,
    account_ids: Sequence[UUID] | None,
    now: datetime,
) -> Endpoint:
    row = await conn.fetchrow(
        f"""
        update webhook_endpoints set url = $2, description = $3, event_types = $4,
            account_ids = $5, version = version + 1, updated_at = $6
        where id = $1 returning {_COLUMNS}
        """,  # noqa: S608
        endpoint_id,
        url,
        description,
        event_types,
        account_ids,
        now,
    )
    return _endpoint(row)


async def set_status(
    conn: asyncpg.Connection, endpoint_id: UUID, status: str, reason: str | None, now: datetime
) -> Endpoint:
    """Enable (clearing the failure state, so delivery resumes at once) or disable."""
    row = await conn.fetchrow(
        f"""
        update webhook_endpoints set status = $2, disabled_reason = $3,
            attempts = 0, failing_since = null, next_attempt_at = null,
            version = version + 1, updated_at = $4
        where id = $1 returning {_COLUMNS}
        """,  # noqa: S608
        endpoint_id,
        status,
        reason,
        now,
    )
    return _endpoint(row)


async def set_cursor(conn: asyncpg.Connection, endpoint_id: UUID, cursor: Cursor) -> Endpoint:
    row = await conn.fetchrow(
        f"""
        update webhook_endpoints set cursor_txid = $2::xid8, cursor_id = $3,
            attempts = 0, failing_since = null, next_attempt_at = null, version = version + 1
        where id = $1 returning {_COLUMNS}
        """,  # noqa: S608
        endpoint_id,
        cursor.txid,
        cursor.id,
    )
    return _endpoint(row)


async def delete(conn: asyncpg.Connection, endpoint_id: UUID) -> None:
    await conn.execute("delete from webhook_endpoints where id = $1", endpoint_id)


@dataclass(frozen=True, slots=True)
class Sealed:
    current: bytes
    previous: bytes | None
    previous_expires_at: datetime | None


async def sealed_secrets(conn: asyncpg.Connection, endpoint_id: UUID) -> Sealed | None:
    row = await conn.fetchrow(
        """select secret, previous_secret, previous_secret_expires_at
           from webhook_endpoints where id = $1""",
        endpoint_id,
    )
    if row is None:
        return None
    return Sealed(row["secret"], row["previous_secret"], row["previous_secret_expires_at"])


async def set_secret(
    conn: asyncpg.Connection, endpoint_id: UUID, sealed: bytes, keep_until: datetime
) -> Endpoint:
    """Make `sealed` the secret; the one it replaces keeps signing until `keep_until`."""
    row = await conn.fetchrow(
        f"""
        update webhook_endpoints set previous_secret = secret,
            previous_secret_expires_at = $3, secret = $2, version = version + 1
        where id = $1 returning {_COLUMNS}
        """,  # noqa: S608
        endpoint_id,
        sealed,
        keep_until,
    )
    return _endpoint(row)


@dataclass(frozen=True, slots=True)
class Lease:
    owner: str
    until: datetime


async def claim_due(
    conn: asyncpg.Connection,
    now: datetime,
    lease: Lease,
    limit: int,
    busy: Sequence[UUID],
    probe: readable.Probe,
) -> tuple[list[Endpoint], readable.Probe]:
    """Lease up to `limit` enabled endpoints that are due and have events after their
    cursor, skipping those another replica holds (or whose lease this one holds: `busy`).
    An endpoint is due when no retry waits and no live lease holds it. `probe` is the one
    the previous claim returned (`readable.CAUTIOUS` at first); the next one comes back."""
    rows = await conn.fetch(
        f"""
        with {readable.horizon_cte("$6", "$7")},
        due as (
            select e.id from webhook_endpoints e
            where e.status = 'enabled'
              and (e.next_attempt_at is null or e.next_attempt_at <= $1)
              and (e.lease_until is null or e.lease_until < $1)
              and e.id <> all($5::uuid[])
              and exists (select 1 from events v
                          where (v.txid, v.id) > (e.cursor_txid, e.cursor_id)
                            and v.txid < (select xmin from horizon))
            order by e.next_attempt_at nulls first, e.id
            limit $4
            for update skip locked
        ),
        claimed as (
            update webhook_endpoints e set lease_owner = $2, lease_until = $3
            from due where e.id = due.id
            returning {", ".join("e." + c.strip() for c in _COLUMNS.split(","))}
        )
        select p.probe_next, p.probe_running, c.*
        from (select h.probe_next, {readable.NEXT_PROBE} from horizon h) p
        left join claimed c on true
        """,  # noqa: S608
        now,
        lease.owner,
        lease.until,
        limit,
        list(busy),
        probe.next_xid,
        list(probe.running),
    )
    claimed = [_endpoint(r) for r in rows if r["id"] is not None]
    return claimed, readable.probe_from(rows[0])


async def release(conn: asyncpg.Connection, endpoint_id: UUID, owner: str) -> None:
    await conn.execute(
        """update webhook_endpoints set lease_owner = null, lease_until = null
           where id = $1 and lease_owner = $2""",
        endpoint_id,
        owner,
    )


async def record_attempt(
    conn: asyncpg.Connection,
    endpoint: Endpoint,
    attempt: Attempt,
    lease: Lease,
    advance_to: Cursor | None,
    retry_after: timedelta | None,
) -> bool:
    """Log an attempt and move the endpoint on in one statement: past the event on success
    (`advance_to`), or to its next retry (`retry_after`); renews the lease. False, with
    nothing written, when this replica no longer holds the endpoint or it changed since it
    was read (a replay, a new URL or filter, disabled, a new secret): the caller re-reads."""
    moved = await conn.fetchval(
        """
        with moved as (
            update webhook_endpoints set
                cursor_txid = coalesce($3::xid8, cursor_txid),
                cursor_id = coalesce($4, cursor_id),
                attempts = case when $3::xid8 is null then attempts + 1 else 0 end,
                failing_since = case when $3::xid8 is null
                                     then coalesce(failing_since, $7) else null end,
                next_attempt_at = $7 + $5::interval,
                lease_until = $6
            where id = $1 and lease_owner = $2 and version = $15
            returning id
        ), logged as (
            insert into webhook_attempts (endpoint_id, event_id, webhook_id, event_type,
                attempted_at, succeeded, status_code, latency_ms, error)
            select id, $8, $9, $10, $7, $11, $12, $13, $14 from moved
        )
        select count(*) from moved
        """,
        endpoint.id,
        lease.owner,
        None if advance_to is None else advance_to.txid,
        None if advance_to is None else advance_to.id,
        retry_after,
        lease.until,
        attempt.attempted_at,
        attempt.event_id,
        attempt.webhook_id,
        attempt.event_type,
        attempt.succeeded,
        attempt.status_code,
        attempt.latency_ms,
        attempt.error,
        endpoint.version,
    )
    return bool(moved)


async def attempts_page(
    conn: asyncpg.Connection,
    endpoint_id: UUID,
    succeeded: bool | None,
    before: int | None,
    limit: int,
) -> list[Attempt]:
    """Attempts of an endpoint, newest first, with ids below `before`."""
    rows = await conn.fetch(
        """
        select * from webhook_attempts
        where endpoint_id = $1 and ($2::boolean is null or succeeded = $2)
          and ($3::bigint is null or id < $3)
        order by id desc limit $4
        """,
        endpoint_id,
        succeeded,
        before,
        limit,
    )
    return [
        Attempt(
            id=r["id"],
            endpoint_id=r["endpoint_id"],
            event_id=r["event_id"],
            webhook_id=r["webhook_id"],
            event_type=r["event_type"],
            attempted_at=r["attempted_at"],
            succeeded=r["succeeded"],
            status_code=r["status_code"],
            latency_ms=r["latency_ms"],
            error=r["error"],
        )
        for r in rows
    ]


async def log_attempt(conn: asyncpg.Connection, attempt: Attempt) -> None:
    """Log an attempt that moves nothing: a test send."""
    await conn.execute(
        """
        insert into webhook_attempts (endpoint_id, event_id, webhook_id, event_type,
            attempted_at, succeeded, status_code, latency_ms, error)
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        """,
        attempt.endpoint_id,
        attempt.event_id,
        attempt.webhook_id,
        attempt.event_type,
        attempt.attempted_at,
        attempt.succeeded,
        attempt.status_code,
        attempt.latency_ms,
        attempt.error,
    )


async def advance(conn: asyncpg.Connection, endpoint: Endpoint, lease: Lease, to: Cursor) -> bool:
    """Move past events the endpoint does not want; False when the lease was lost or the
    endpoint changed since it was read."""
    moved = await conn.fetchval(
        """
        update webhook_endpoints set cursor_txid = $3::xid8, cursor_id = $4, lease_until = $5
        where id = $1 and lease_owner = $2 and version = $6
          and (cursor_txid, cursor_id) <= ($3::xid8, $4)
        returning true
        """,
        endpoint.id,
        lease.owner,
        to.txid,
        to.id,
        lease.until,
        endpoint.version,
    )
    return bool(moved)


async def manages(conn: asyncpg.Connection, partner_id: UUID, account_id: UUID) -> bool:
    managed = await conn.fetchval(
        "select exists (select 1 from partner_accounts where partner_id = $1 and account_id = $2)",
        partner_id,
        account_id,
    )
    return bool(managed)


async def postpone(
    conn: asyncpg.Connection, endpoint_id: UUID, owner: str, until: datetime
) -> None:
    """Hold the endpoint back until `until` (a replica that cannot serve it now)."""
    await conn.execute(
        "update webhook_endpoints set next_attempt_at = $3 where id = $1 and lease_owner = $2",
        endpoint_id,
        owner,
        until,
    )


async def backlog(conn: asyncpg.Connection, now: datetime) -> tuple[int, float]:
    """How many enabled endpoints have events after their cursor, and the age in seconds
    of the oldest such event (0 without any): one index probe per endpoint."""
    row = await conn.fetchrow(
        """
        select count(*) as behind,
               coalesce(extract(epoch from $1 - min(next.created_at)), 0)::float8 as oldest
        from webhook_endpoints e
        cross join lateral (
            select v.created_at from events v
            where (v.txid, v.id) > (e.cursor_txid, e.cursor_id)
            order by v.txid, v.id limit 1
        ) next
        where e.status = 'enabled'
        """,
        now,
    )
    return int(row["behind"]), max(0.0, float(row["oldest"]))
