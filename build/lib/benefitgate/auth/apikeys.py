"""API keys for partners and internal tools.

A key reads `bgk_<id>_<secret>`: the prefix makes leaked keys easy to recognise and scan
for, the id finds the row, and only a SHA-256 of the random secret is stored. A slow hash
adds nothing for 256 random bits.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from benefitgate.auth.principals import Principal, Role, Unauthenticated
from benefitgate.events import outbox as events

__all__ = [
    "ApiKey",
    "IssuedKey",
    "KeyNotFound",
    "authenticate",
    "create_key",
    "list_keys",
    "revoke_key",
]

PREFIX = "bgk_"
_KEY_ID = re.compile(r"[0-9a-f]{12}")  # secrets.token_hex(6)


class KeyNotFound(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    name: str
    role: Role
    partner_id: UUID | None
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key: ApiKey
    secret: str  # the full key; shown once, never stored


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def _split(raw: str) -> tuple[str, str]:
    if not raw.startswith(PREFIX):
        raise Unauthenticated("malformed API key")
    key_id, sep, secret = raw[len(PREFIX) :].partition("_")
    # The id is looked up in the database: only what create_key makes may reach it.
    if not sep or not _KEY_ID.fullmatch(key_id) or len(secret) < 32:
        raise Unauthenticated("malformed API key")
    return key_id, secret


def _to_key(row: asyncpg.Record) -> ApiKey:
    return ApiKey(
        id=row["id"],
        name=row["name"],
        role=Role(row["role"]),
        partner_id=row["partner_id"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )


async def create_key(
    conn: asyncpg.Connection, *, name: str, role: Role, partner_id: UUID | None = None
) -> IssuedKey:
    """Create a key. Partner keys must name a partner; other roles must not."""
    if role is Role.FRONTEND:
        raise ValueError("frontends authenticate with tokens, not API keys")
    if (role is Role.PARTNER) != (partner_id is not None):
        raise ValueError("a partner key needs a partner id, and only a partner key takes one")
    key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    row = await conn.fetchrow(
        """
        insert into api_keys (id, secret_hash, name, role, partner_id)
        values ($1, $2, $3, $4, $5)
        returning id, name, role, partner_id, created_at, revoked_at
        """,
        key_id,
        _hash(secret),
        name,
        role.value,
        partner_id,
    )
    return IssuedKey(_to_key(row), f"{PREFIX}{key_id}_{secret}")


async def list_keys(conn: asyncpg.Connection) -> list[ApiKey]:
    rows = await conn.fetch(
        """select id, name, role, partner_id, created_at, revoked_at
           from api_keys order by created_at"""
    )
    return [_to_key(row) for row in rows]


async def revoke_key(conn: asyncpg.Connection, key_id: str) -> ApiKey:
    """Revoke a key (idempotent) and tell every process to forget it."""
    async with conn.transaction():
        row = await conn.fetchrow(
            """
            update api_keys set revoked_at = coalesce(revoked_at, now()) where id = $1
            returning id, name, role, partner_id, created_at, revoked_at
            """,
            key_id,
        )
        if row is None:
            raise KeyNotFound(key_id)
        await events.enqueue(conn, "api_key.revoked", None, {"key_id": key_id})
    return _to_key(row)


async def authenticate(conn: asyncpg.Connection, raw: str) -> Principal:
    """The principal of a valid, unrevoked key, or Unauthenticated."""
    key_id, secret = _split(raw)
    row = await conn.fetchrow(
        "select secret_hash, role, partner_id, revoked_at from api_keys where id = $1", key_id
    )
    if row is None or not hmac.compare_digest(bytes(row["secret_hash"]), _hash(secret)):
        raise Unauthenticated("unknown API key")
    if row["revoked_at"] is not None:
        raise Unauthenticated("revoked API key")
    return Principal(Role(row["role"]), subject=f"key:{key_id}", partner_id=row["partner_id"])
