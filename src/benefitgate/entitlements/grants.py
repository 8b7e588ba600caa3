"""Grant changes by internal tools: grant, edit, revoke, override a limit, and restore a
state for a rollback. Each change writes its audit entry and an `entitlement.changed`
event in the caller's transaction.

Optimistic concurrency: edits and revocations name the version they read; the row is
locked before the version is compared, so of two edits from one version exactly one wins.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypedDict
from uuid import UUID

import asyncpg

from benefitgate.audit import service as audit
from benefitgate.audit.models import AuditEntry, Target
from benefitgate.audit.rollback import refuse_if_changed_since
from benefitgate.catalog.models import Benefit, Catalog
from benefitgate.common import quantities
from benefitgate.common.changes import ChangeContext, InvalidChange, TargetNotFound, expect_version
from benefitgate.common.isotime import WITHIN_A_YEAR, from_iso, to_iso
from benefitgate.common.text import a_or_an, quoted
from benefitgate.entitlements import repository
from benefitgate.entitlements.models import Grant
from benefitgate.events import outbox as events

__all__ = [
    "AMOUNT_KINDS",
    "GRANTABLE_SOURCES",
    "GrantEdits",
    "NewGrant",
    "amount_misfit",
    "create_grant",
    "create_grants",
    "edit_grant",
    "from_snapshot",
    "lock_grant",
    "override_limit",
    "restore_grant",
    "revoke_grant",
    "roll_back_grant",
    "snapshot",
]

GRANTABLE_SOURCES = ("manual", "promotional", "trial", "addon")
# The benefit kinds granted in an amount: a limit's increase (or override), a credit's lot.
AMOUNT_KINDS = ("limit", "credit")
EVENT = "entitlement.changed"
KIND = "grant"


@dataclass(frozen=True, slots=True)
class NewGrant:
    account_id: UUID
    benefit_key: str
    source: str
    amount: float | None
    valid_from: datetime
    valid_until: datetime | None
    mode: str = "add"


class GrantEdits(TypedDict, total=False):
    amount: float | None
    valid_until: datetime | None


def snapshot(grant: Grant) -> dict[str, Any]:
    """The grant as the audit log records it (and a rollback restores it)."""
    return {
        "id": str(grant.id),
        "accountId": str(grant.account_id),
        "benefit": grant.benefit_key,
        "source": grant.source,
        "amount": grant.amount,
        "mode": grant.mode,
        "validFrom": grant.valid_from.isoformat(),
        "validUntil": to_iso(grant.valid_until),
        "revokedAt": to_iso(grant.revoked_at),
        "createdAt": grant.created_at.isoformat(),
        "version": grant.version,
    }


def from_snapshot(state: dict[str, Any]) -> Grant:
    """The grant an audit snapshot recorded."""
    return Grant(
        id=UUID(state["id"]),
        account_id=UUID(state["accountId"]),
        benefit_key=state["benefit"],
        source=state["source"],
        amount=state["amount"],
        mode=state["mode"],
        valid_from=datetime.fromisoformat(state["validFrom"]),
        valid_until=from_iso(state["validUntil"]),
        revoked_at=from_iso(state["revokedAt"]),
        created_at=datetime.fromisoformat(state["createdAt"]),
        version=state["version"],
    )


def _target(grant: Grant) -> Target:
    return Target(KIND, str(grant.id), grant.account_id)


def _validate_amount(amount: float | None, kind: str | None) -> None:
    """A limit's or a credit's grant needs an amount; a credit's is a lot, so it holds some
    (the credits' rule of amounts, shared with consumption)."""
    if amount is None:
        if kind in AMOUNT_KINDS:
            raise InvalidChange("amount", "this benefit is granted with an amount")
        return
    if kind == "credit" and quantities.credit_amount(amount) is None:
        raise InvalidChange("amount", quantities.CREDIT_AMOUNT)
    if not quantities.non_negative(amount):
        raise InvalidChange("amount", f"give an amount of {quantities.NON_NEGATIVE}")


def amount_misfit(amount: float | None, benefit: Benefit, catalog: Catalog) -> str | None:
    """Why `amount` does not fit a grant of `benefit`, if it does not: only a limit or a
    credit is granted in an amount (an amount on a feature was stored and shown as if it
    meant something), and one of a metric that counts whole events is a whole number.
    Holds for operators' grants and for the rewards milestones define."""
    if amount is None:
        return None
    if benefit.kind not in AMOUNT_KINDS:
        return f"{a_or_an(benefit.kind)} benefit is granted without an amount"
    if catalog.counts_whole(benefit.metric_key) and not quantities.is_whole(amount):
        return quantities.WHOLE
    return None


def _validate_start(valid_from: datetime, now: datetime) -> None:
    """A start an operator gives is within a year of now, as a subscription's is: a mistyped
    year (9999) was stored as a grant that would never count."""
    if abs(valid_from - now) > WITHIN_A_YEAR:
        raise InvalidChange("validFrom", "give a start within a year of now")


def _validate_window(valid_from: datetime, valid_until: datetime | None) -> None:
    if valid_until is not None and valid_until <= valid_from:
        raise InvalidChange("validUntil", "validUntil must be after validFrom")


def _validate_end(valid_until: datetime | None, now: datetime) -> None:
    """An end an operator gives must be ahead: a grant that ended already would never be in
    force, and was answered as granted (a mistyped year looked like a success)."""
    if valid_until is not None and valid_until <= now:
        raise InvalidChange(
            "validUntil",
            "validUntil is past, so the grant would never count; revoke to end one now",
        )


def _validate_new(new: NewGrant, catalog: Catalog, sources: tuple[str, ...]) -> None:
    benefit = catalog.benefits.get(new.benefit_key)
    if benefit is None:
        raise InvalidChange("benefit", f"unknown benefit {quoted(new.benefit_key)}")
    if not benefit.active_on(new.valid_from.astimezone(UTC).date()):  # a UTC day
        raise InvalidChange("benefit", f"{quoted(new.benefit_key)} is not in the catalog then")
    if new.source not in sources:
        raise InvalidChange("source", f"grant from one of {', '.join(sources)}")
    if new.mode == "override" and benefit.kind != "limit":
        raise InvalidChange("benefit", "only a limit benefit overrides a limit")
    _validate_amount(new.amount, benefit.kind)
    _validate_window(new.valid_from, new.valid_until)


async def _changed(
    conn: asyncpg.Connection,
    change: ChangeContext,
    action: str,
    before: Grant | None,
    after: Grant,
    rollback_of: int | None = None,
) -> AuditEntry:
    """Record a grant change: its audit entry and its outbox event."""
    entry = await audit.record(
        conn,
        change,
        action,
        _target(after),
        None if before is None else snapshot(before),
        snapshot(after),
        rollback_of,
    )
    await events.enqueue(
        conn,
        EVENT,
        after.account_id,
        {"action": action, "auditEntryId": entry.id, "grant": snapshot(after)},
    )
    return entry


async def create_grant(
    conn: asyncpg.Connection,
    change: ChangeContext,
    new: NewGrant,
    catalog: Catalog,
    *,
    sources: tuple[str, ...] = GRANTABLE_SOURCES,
) -> tuple[Grant, AuditEntry]:
    """Grant a benefit from one of `sources` (by default those an operator grants from).
    Raises InvalidChange, before writing, for a bad benefit, source, amount or validity (an
    operator's grant that ended already; a reward caught up after downtime may have)."""
    grant = _checked(change, new, catalog, sources)
    stored = await repository.insert_grant(conn, grant, change.reason)
    return stored, await _changed(conn, change, "grant.created", None, stored)


async def create_grants(
    conn: asyncpg.Connection,
    change: ChangeContext,
    news: Sequence[NewGrant],
    catalog: Catalog,
    *,
    sources: tuple[str, ...] = GRANTABLE_SOURCES,
) -> list[tuple[Grant, int]]:
    """`create_grant` for each of `news`, under one change, in three statements whatever
    their number: each grant with the id of its audit entry, in order. Raises
    InvalidChange, before writing anything, if any of them is bad.

    Why: a burst of rewards (many accounts reaching a milestone in one ingest batch) took
    three round trips a grant while the batch held its counters' row locks."""
    checked = [_checked(change, new, catalog, sources) for new in news]
    if not checked:
        return []
    stored = await repository.insert_grants(conn, checked, change.reason)
    entries = await audit.record_many(
        conn, change, "grant.created", [(_target(g), None, snapshot(g)) for g in stored]
    )
    await events.enqueue_many(
        conn,
        EVENT,
        [
            (g.account_id, {"action": "grant.created", "auditEntryId": entry, "grant": snapshot(g)})
            for g, entry in zip(stored, entries, strict=True)
        ],
    )
    return list(zip(stored, entries, strict=True))


def _checked(
    change: ChangeContext, new: NewGrant, catalog: Catalog, sources: tuple[str, ...]
) -> Grant:
    """The grant `new` makes under `change`, once it is valid (else InvalidChange)."""
    _validate_new(new, catalog, sources)
    if new.source in GRANTABLE_SOURCES:
        # Not a reward's: its milestone was checked when defined (milestones.definitions),
        # and one defined before these rules must not fail the ingest that reaches it.
        _validate_start(new.valid_from, change.at)
        _validate_end(new.valid_until, change.at)
        misfit = amount_misfit(new.amount, catalog.benefits[new.benefit_key], catalog)
        if misfit is not None:
            raise InvalidChange("amount", misfit)
    return Grant(
        id=uuid.uuid4(),
        account_id=new.account_id,
        benefit_key=new.benefit_key,
        source=new.source,
        amount=new.amount,
        mode=new.mode,
        valid_from=new.valid_from,
        valid_until=new.valid_until,
        revoked_at=None,
        created_at=change.at,
    )


async def override_limit(
    conn: asyncpg.Connection,
    change: ChangeContext,
    account_id: UUID,
    metric_key: str,
    included: float,
    valid_until: datetime | None,
    catalog: Catalog,
) -> tuple[Grant, AuditEntry]:
    """Replace the account's limit on a metric (see the precedence rule) with a manual
    override grant of the catalog's limit benefit for that metric."""
    if metric_key not in catalog.metrics:
        raise InvalidChange("metric", f"unknown metric {quoted(metric_key)}")
    if not quantities.non_negative(included):  # checked as `amount` below, named as given
        raise InvalidChange("included", f"give an amount of {quantities.NON_NEGATIVE}")
    if catalog.metrics[metric_key].counts_whole and not quantities.is_whole(included):
        raise InvalidChange("included", quantities.WHOLE)
    benefit = next(
        (
            b
            for b in sorted(catalog.benefits.values(), key=lambda b: b.key)
            if b.kind == "limit" and b.metric_key == metric_key
        ),
        None,
    )
    if benefit is None:
        raise InvalidChange(
            "metric", f"no limit benefit in the catalog raises {quoted(metric_key)}"
        )
    new = NewGrant(
        account_id, benefit.key, "manual", included, change.at, valid_until, mode="override"
    )
    return await create_grant(conn, change, new, catalog)


async def lock_grant(conn: asyncpg.Connection, grant_id: UUID) -> Grant:
    grant = await repository.grant_for_update(conn, grant_id)
    if grant is None:
        raise TargetNotFound("grant")
    return grant


async def _locked_at_version(conn: asyncpg.Connection, grant_id: UUID, expected: int) -> Grant:
    grant = await lock_grant(conn, grant_id)
    expect_version(expected, grant.version)
    if grant.revoked_at is not None:
        raise InvalidChange("grantId", "the grant is revoked")
    return grant


async def edit_grant(
    conn: asyncpg.Connection,
    change: ChangeContext,
    grant_id: UUID,
    expected_version: int,
    edits: GrantEdits,
    catalog: Catalog,
) -> tuple[Grant, AuditEntry]:
    """Change a grant's amount or end. Raises TargetNotFound, VersionConflict or
    InvalidChange (a revoked grant, a bad amount, an end before the start or before now)."""
    if "valid_until" in edits:
        _validate_end(edits["valid_until"], change.at)
    before = await _locked_at_version(conn, grant_id, expected_version)
    wanted = replace(before, **edits)
    benefit = catalog.benefits.get(before.benefit_key)
    _validate_amount(wanted.amount, None if benefit is None else benefit.kind)
    # Only an amount given now: an edit of the end alone keeps whatever amount the grant
    # was stored with before these rules.
    misfit = None if benefit is None else amount_misfit(edits.get("amount"), benefit, catalog)
    if misfit is not None:
        raise InvalidChange("amount", misfit)
    _validate_window(wanted.valid_from, wanted.valid_until)
    after = await repository.update_grant(conn, wanted)
    return after, await _changed(conn, change, "grant.updated", before, after)


async def revoke_grant(
    conn: asyncpg.Connection, change: ChangeContext, grant_id: UUID, expected_version: int
) -> tuple[Grant, AuditEntry]:
    """Revoke a grant now; its row stays as history. Raises TargetNotFound,
    VersionConflict, or InvalidChange when it is already revoked."""
    before = await _locked_at_version(conn, grant_id, expected_version)
    after = await repository.update_grant(conn, replace(before, revoked_at=change.at))
    return after, await _changed(conn, change, "grant.revoked", before, after)


async def restore_grant(
    conn: asyncpg.Connection,
    change: ChangeContext,
    grant: Grant,
    state: dict[str, Any] | None,
    rollback_of: int,
) -> AuditEntry:
    """Return a grant locked by `lock_grant` to a recorded `state` as a new change; no state
    (the grant did not exist) revokes it."""
    if state is None:
        wanted = replace(grant, revoked_at=grant.revoked_at or change.at)
    else:
        recorded = from_snapshot(state)
        wanted = replace(
            grant,
            amount=recorded.amount,
            valid_from=recorded.valid_from,
            valid_until=recorded.valid_until,
            revoked_at=recorded.revoked_at,
        )
    after = await repository.update_grant(conn, wanted)
    return await _changed(conn, change, "rollback", grant, after, rollback_of)


async def roll_back_grant(
    conn: asyncpg.Connection, change: ChangeContext, entry: AuditEntry
) -> AuditEntry:
    """The rollback of a grant's audit entry (see `audit.rollback`)."""
    grant = await lock_grant(conn, UUID(entry.target.id))
    await refuse_if_changed_since(conn, entry)
    return await restore_grant(conn, change, grant, entry.before, entry.id)
