"""Webhook endpoints: register, change, disable and enable, delete, rotate the secret,
replay from a cursor. Internal tools manage every endpoint; a partner manages its own,
and names only accounts it manages. Functions take the caller's connection and raise the
refusals of `common.changes`; the edge owns the transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

import asyncpg

from benefitgate.audit import service as audit
from benefitgate.audit.models import Target
from benefitgate.common.changes import ChangeContext, InvalidChange, TargetNotFound, expect_version
from benefitgate.events import kinds, outbox, retention
from benefitgate.events.outbox import Cursor
from benefitgate.webhooks import repository
from benefitgate.webhooks.delivery import Sender
from benefitgate.webhooks.models import ENDPOINT_DISABLED, Endpoint
from benefitgate.webhooks.signing import InvalidToken, SecretBox, new_secret
from benefitgate.webhooks.urls import UnsafeUrl, check_url

__all__ = [
    "ALL",
    "EndpointSpec",
    "Webhooks",
    "create",
    "delete",
    "disable",
    "enable",
    "owned",
    "replay",
    "rotate_secret",
    "signing_secrets",
    "update",
]

T = TypeVar("T")

KIND = "webhook_endpoint"
OLD_SECRET_KEPT = timedelta(hours=24)  # a rotated-out secret signs beside the new one
MAX_DESCRIPTION = 500
MAX_EVENT_TYPES = 50
MAX_ACCOUNTS = 100
MAX_EVENT_TYPE = 100


@dataclass(frozen=True, slots=True)
class Webhooks:
    """What webhook resolvers need of the process: the sealing key, the sender, where
    receivers may be, and the dispatcher's wake-up."""

    box: SecretBox
    sender: Sender
    allow_hosts: frozenset[str]
    dev_mode: bool
    wake: Callable[[], None]


class _All:
    """The owner filter of an internal tool: every endpoint."""


ALL = _All()
Owner = UUID | None | _All  # a partner's id; None for internal tools' own; ALL to manage any


@dataclass(frozen=True, slots=True)
class EndpointSpec:
    url: str
    description: str
    event_types: Sequence[str] | None
    account_ids: Sequence[UUID] | None


async def _check(
    conn: asyncpg.Connection, spec: EndpointSpec, hooks: Webhooks, partner: UUID | None
) -> None:
    try:
        await check_url(spec.url, hooks.allow_hosts, hooks.dev_mode)
    except UnsafeUrl as exc:
        raise InvalidChange("url", str(exc)) from exc
    if len(spec.description) > MAX_DESCRIPTION:
        raise InvalidChange("description", f"at most {MAX_DESCRIPTION} characters")
    types = spec.event_types
    if types is not None and not (
        0 < len(types) <= MAX_EVENT_TYPES and all(0 < len(t) <= MAX_EVENT_TYPE for t in types)
    ):
        raise InvalidChange("eventTypes", f"give 1 to {MAX_EVENT_TYPES} event types, or none")
    # A type the service never writes (a typo) would deliver nothing, without a word.
    unknown = None if types is None else kinds.refusal(types)
    if unknown is not None:
        raise InvalidChange("eventTypes", unknown)
    accounts = spec.account_ids
    # A partner's endpoint, or one narrowed to accounts, hears only accounts' events.
    if types is not None and (partner is not None or accounts is not None):
        accountless = kinds.accountless(types)
        if accountless is not None:
            raise InvalidChange("eventTypes", accountless)
    if accounts is not None:
        if not 0 < len(accounts) <= MAX_ACCOUNTS:
            raise InvalidChange("accountIds", f"give 1 to {MAX_ACCOUNTS} accounts, or none")
        if not await _may_name(conn, partner, accounts):
            raise TargetNotFound("account")  # as for any account the caller cannot see


async def _may_name(
    conn: asyncpg.Connection, partner: UUID | None, accounts: Sequence[UUID]
) -> bool:
    """Whether every account exists and, for a partner, is one it manages."""
    found = await conn.fetchval(
        """select count(*) from accounts a where a.id = any($2::uuid[])
           and ($1::uuid is null or exists (select 1 from partner_accounts p
                where p.partner_id = $1 and p.account_id = a.id))""",
        partner,
        list(set(accounts)),
    )
    return bool(found == len(set(accounts)))


async def create(
    conn: asyncpg.Connection,
    hooks: Webhooks,
    partner: UUID | None,
    spec: EndpointSpec,
    change: ChangeContext,
) -> tuple[Endpoint, str]:
    """Register an endpoint that receives the events committed from now on; returns it
    with its secret, which is never shown again."""
    await _check(conn, spec, hooks, partner)
    secret = new_secret()
    endpoint = await repository.insert(
        conn,
        partner,
        spec.url,
        spec.description,
        _distinct(spec.event_types),
        _distinct(spec.account_ids),
        hooks.box.seal(secret),
        await outbox.tail_cursor(conn),
        change.at,
    )
    await _audit(conn, change, "webhook_endpoint.created", None, endpoint)
    return endpoint, secret


async def owned(conn: asyncpg.Connection, endpoint_id: UUID, owner: Owner) -> Endpoint:
    """The endpoint, locked, if `owner` may manage it; TargetNotFound otherwise, as if it
    did not exist."""
    found = await repository.lock(conn, endpoint_id)
    if found is None or not (owner is ALL or found.partner_id == owner):
        raise TargetNotFound("webhook endpoint")
    return found


async def update(
    conn: asyncpg.Connection,
    hooks: Webhooks,
    endpoint_id: UUID,
    owner: Owner,
    expected_version: int,
    spec: EndpointSpec,
    change: ChangeContext,
) -> Endpoint:
    found = await owned(conn, endpoint_id, owner)
    expect_version(expected_version, found.version)
    await _check(conn, spec, hooks, found.partner_id)
    updated = await repository.update(
        conn,
        found.id,
        spec.url,
        spec.description,
        _distinct(spec.event_types),
        _distinct(spec.account_ids),
        change.at,
    )
    await _audit(conn, change, "webhook_endpoint.updated", found, updated)
    return updated


async def enable(
    conn: asyncpg.Connection, endpoint_id: UUID, owner: Owner, change: ChangeContext
) -> Endpoint:
    """Enable and retry at once; delivery resumes from the endpoint's cursor."""
    found = await owned(conn, endpoint_id, owner)
    enabled = await repository.set_status(conn, found.id, "enabled", None, change.at)
    await _audit(conn, change, "webhook_endpoint.enabled", found, enabled)
    return enabled


async def disable(
    conn: asyncpg.Connection, endpoint: Endpoint, reason: str, change: ChangeContext
) -> Endpoint:
    """Disable, and report it with a `webhook.endpoint_disabled` event (internal readers
    only: it names the endpoint's URL)."""
    disabled = await repository.set_status(conn, endpoint.id, "disabled", reason, change.at)
    await _audit(conn, change, "webhook_endpoint.disabled", endpoint, disabled)
    payload = {
        "endpointId": str(disabled.id),
        "partnerId": None if disabled.partner_id is None else str(disabled.partner_id),
        "url": disabled.url,
        "reason": reason,
    }
    await outbox.enqueue(conn, ENDPOINT_DISABLED, None, payload)
    return disabled


async def delete(
    conn: asyncpg.Connection, endpoint_id: UUID, owner: Owner, change: ChangeContext
) -> None:
    found = await owned(conn, endpoint_id, owner)
    await repository.delete(conn, found.id)
    await _audit(conn, change, "webhook_endpoint.deleted", found, None)


async def rotate_secret(
    conn: asyncpg.Connection,
    hooks: Webhooks,
    endpoint_id: UUID,
    owner: Owner,
    change: ChangeContext,
    expire_previous_now: bool = False,
) -> tuple[Endpoint, str, datetime]:
    """A new secret, shown once; the old one signs beside it for 24 hours. Returns the
    endpoint, the secret, and when the old one stops signing. Only one rotated-out secret
    signs at a time: while one still does, this raises InvalidChange (its promised 24
    hours would end at once) unless `expire_previous_now`, which stops every secret but
    the new one signing at once: for a secret that leaked."""
    found = await owned(conn, endpoint_id, owner)
    sealed = await repository.sealed_secrets(conn, found.id)
    expires = None if sealed is None else sealed.previous_expires_at
    if expires is not None and expires > change.at and not expire_previous_now:
        raise InvalidChange(
            "expirePreviousNow",
            f"the secret rotated out before signs until {expires.isoformat()}; rotate "
            "again after then, or with expirePreviousNow to drop it now",
        )
    secret = new_secret()
    until = change.at if expire_previous_now else change.at + OLD_SECRET_KEPT
    rotated = await repository.set_secret(conn, found.id, hooks.box.seal(secret), until)
    await _audit(conn, change, "webhook_endpoint.secret_rotated", found, rotated)
    return rotated, secret, until


async def replay(
    conn: asyncpg.Connection, endpoint_id: UUID, owner: Owner, after: Cursor, change: ChangeContext
) -> Endpoint:
    """Send again everything after `after`, in order. Raises InvalidChange for a cursor
    older than the retention horizon (those events were pruned) or past the newest event
    (the endpoint would wait for events that may never come). Any cursor the feed hands
    out is taken, its pages' `endCursor` too: one past the last event of the outbox (where a
    page of the feed settled) was refused, and so was the horizon once every event was
    pruned."""
    found = await owned(conn, endpoint_id, owner)
    try:
        await retention.check_cursor(conn, after)
    except retention.CursorExpired as exc:
        raise InvalidChange("after", f"{exc}; the oldest is {exc.horizon.encode()}") from exc
    try:
        await outbox.check_issued(conn, after)
    except outbox.InvalidCursor as exc:
        raise InvalidChange("after", f"after is {exc}") from exc
    replayed = await repository.set_cursor(conn, found.id, after)
    await _audit(conn, change, "webhook_endpoint.replayed", found, replayed)
    return replayed


async def signing_secrets(
    conn: asyncpg.Connection, box: SecretBox, endpoint_id: UUID, now: datetime
) -> list[str] | None:
    """The secrets that sign the endpoint's messages now: the current one, and the one it
    replaced while that is still valid. None if the endpoint is gone, or its secret does
    not open with this process's key (a misconfigured replica must not send unsigned)."""
    sealed = await repository.sealed_secrets(conn, endpoint_id)
    if sealed is None:
        return None
    previous, expires = sealed.previous, sealed.previous_expires_at
    try:
        signing = [box.open(sealed.current)]
        if previous is not None and expires is not None and expires > now:
            signing.append(box.open(previous))
    except InvalidToken:
        return None
    return signing


def _snapshot(e: Endpoint) -> dict[str, Any]:
    """What an audit entry keeps of an endpoint: never a secret."""
    return {
        "url": e.url,
        "description": e.description,
        "eventTypes": None if e.event_types is None else list(e.event_types),
        "accountIds": None if e.account_ids is None else [str(a) for a in e.account_ids],
        "partnerId": None if e.partner_id is None else str(e.partner_id),
        "status": e.status,
        "cursor": e.cursor.encode(),
        "version": e.version,
    }


async def _audit(
    conn: asyncpg.Connection,
    change: ChangeContext,
    action: str,
    before: Endpoint | None,
    after: Endpoint | None,
) -> None:
    endpoint = after or before
    assert endpoint is not None  # a change has a before or an after
    target = Target(KIND, str(endpoint.id), None)
    old = None if before is None else _snapshot(before)
    new = None if after is None else _snapshot(after)
    await audit.record(conn, change, action, target, old, new)


def _distinct(values: Sequence[T] | None) -> list[T] | None:
    return None if values is None else list(dict.fromkeys(values))
