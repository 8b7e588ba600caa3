"""Principals and credentials: frontend JWTs and API keys for partners and internal tools.

Every request has a principal. A credential that is missing, malformed, expired or revoked
raises Unauthenticated, which the HTTP layer turns into a 401.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import jwt

from benefitgate.events.outbox import EventScope, Reader

__all__ = [
    "JOB_ACTORS",
    "KEY_ACTOR_PREFIX",
    "Principal",
    "Role",
    "Unauthenticated",
    "decode_frontend_token",
    "issue_frontend_token",
]

_JWT_ALGORITHM = "HS256"
# Characters of a token's subject. It is stored (in idempotency keys' scope, a unique index,
# and audit entries), so it must be text Postgres can hold, within an index entry.
MAX_SUBJECT = 255
# A change's audit entry names its actor by one string: `key:<id>` for an API key, the
# job's name for a job, the token's subject for a frontend's user. The customer's audit
# trail (`governance.actors`) shows the first as the vendor or a partner and the second as
# the system, so a subject that reads as either would pass a user's change off as the
# vendor's or a job's there: such a token is refused.
KEY_ACTOR_PREFIX = "key:"
JOB_ACTORS = frozenset({"milestones", "scheduler", "webhooks", "import", "seed"})


class Unauthenticated(Exception):
    """The request carries no usable credential. The message is safe to show."""


class Role(enum.Enum):
    FRONTEND = "frontend"
    PARTNER = "partner"
    OPERATOR = "operator"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller. `subject` names it in logs and audit entries."""

    role: Role
    subject: str
    account_id: UUID | None = None  # frontends: the one account they see
    partner_id: UUID | None = None  # partners: the accounts they manage
    expires_at: datetime | None = None  # when its credential stops being valid, if ever

    @property
    def internal(self) -> bool:
        return self.role in (Role.OPERATOR, Role.ADMIN)

    @property
    def idempotency_scope(self) -> str:
        """Whose idempotency keys these are. A token's subject is unique only within its
        account (and could read like an API key's `key:<id>`), so a frontend's scope also
        names the account: users of two accounts never share a key."""
        if self.role is Role.FRONTEND:
            return f"frontend:{self.account_id}:{self.subject}"
        return self.subject

    def can_see(self, account_id: UUID, partner_ids: Collection[UUID]) -> bool:
        """Whether this caller may read the account managed by `partner_ids`."""
        if self.internal:
            return True
        if self.role is Role.FRONTEND:
            return self.account_id == account_id
        return self.partner_id in partner_ids

    def event_scope(self) -> EventScope:
        return EventScope(
            everything=self.internal, account_id=self.account_id, partner_id=self.partner_id
        )

    def event_reader(self) -> Reader:
        return Reader(self.event_scope(), self.subject, self.expires_at)


def _storable_subject(subject: object) -> str:
    """The `sub` claim, if Postgres can store it (1 to MAX_SUBJECT characters of Unicode
    text without NUL) and it cannot pass for another kind of actor (KEY_ACTOR_PREFIX,
    JOB_ACTORS). A signed token with another was accepted for reads, and its writes
    then failed in the database driver as unexpected errors."""
    if not isinstance(subject, str) or not 0 < len(subject) <= MAX_SUBJECT or "\x00" in subject:
        raise Unauthenticated("invalid token")
    if subject.startswith(KEY_ACTOR_PREFIX) or subject in JOB_ACTORS:
        raise Unauthenticated("invalid token: the subject reads as an API key or a job")
    try:
        subject.encode()
    except UnicodeEncodeError as exc:  # a lone surrogate, which JSON may escape
        raise Unauthenticated("invalid token") from exc
    return subject


def issue_frontend_token(
    secret: str, *, subject: str, account_id: UUID, now: datetime, ttl: timedelta
) -> str:
    """A signed token for `subject` in the account. Raises ValueError for a subject the
    service would refuse (`_storable_subject`), rather than hand out a token it rejects."""
    try:
        _storable_subject(subject)
    except Unauthenticated as exc:
        why = str(exc).removeprefix("invalid token").removeprefix(": ")
        raise ValueError(
            f"the service refuses a token with this subject{': ' + why if why else ''}"
        ) from None
    claims = {"sub": subject, "account_id": str(account_id), "exp": now + ttl, "iat": now}
    return jwt.encode(claims, secret, algorithm=_JWT_ALGORITHM)


def decode_frontend_token(secret: str, token: str, now: datetime) -> Principal:
    """Verify signature and expiry (against the injected clock) and read the account."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[_JWT_ALGORITHM],
            options={"require": ["sub", "account_id", "exp"], "verify_exp": False},
        )
    except jwt.PyJWTError as exc:
        raise Unauthenticated("invalid token") from exc
    if not isinstance(claims["exp"], int | float):
        raise Unauthenticated("token expired")
    try:
        account_id = UUID(str(claims["account_id"]))
        # An expiry past year 9999 (or NaN, which JSON decoding lets through) has no instant.
        expires_at = datetime.fromtimestamp(claims["exp"], UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise Unauthenticated("invalid token") from exc
    if expires_at <= now:
        # An `exp` with a fraction finer than a microsecond is rounded to one; that instant
        # is the expiry a verified token is then held to (`auth.credentials`) and its live
        # streams end at, so the full check holds it to the same.
        raise Unauthenticated("token expired")
    return Principal(
        Role.FRONTEND,
        subject=_storable_subject(claims["sub"]),
        account_id=account_id,
        expires_at=expires_at,
    )
