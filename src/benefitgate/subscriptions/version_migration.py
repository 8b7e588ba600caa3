"""Bulk migration of subscriptions from one version of their tier to another.

Grandfathering: a subscription keeps the version it pins when a newer one is published,
until its renewal (which moves it to the version in force then) or an explicit migration,
this. A dry run lists who would move and changes nothing; the real run locks the set,
moves it in one statement, and writes one audit entry per subscription (the snapshot
format of single subscription changes, so `auditRollback` undoes one account's move) and
one `subscription.changed` event per account, and marks each account for its upgrade
suggestions to be recomputed (as a single change does), all in the caller's transaction.

Policy: a migration charges nothing and keeps term, period, seats, grants and usage; the
new version's limits apply at once and its price from the next period.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from benefitgate.accounts.models import Subscription
from benefitgate.audit import service as audit
from benefitgate.audit.models import Target
from benefitgate.catalog import service as catalog
from benefitgate.catalog.models import TierVersion
from benefitgate.common.changes import ChangeContext, InvalidChange, TargetNotFound, VersionConflict
from benefitgate.events import outbox as events
from benefitgate.subscriptions import version_repository as repository
from benefitgate.subscriptions.service import EVENT, KIND, snapshot

__all__ = [
    "ACTION",
    "MAX_BATCH",
    "Migration",
    "Moved",
    "check_pair",
    "migrate",
    "preview",
    "result_json",
]

ACTION = "subscription.version_migrated"
MAX_BATCH = 10_000


@dataclass(frozen=True, slots=True)
class Moved:
    """One subscription of a migration: as it was, and as the move left it (a real run)."""

    account_id: UUID
    account_name: str
    before: Subscription
    after: Subscription | None = None
    audit_entry_id: int | None = None


@dataclass(frozen=True, slots=True)
class Migration:
    source: TierVersion
    target: TierVersion
    dry_run: bool
    subscriptions: tuple[Moved, ...]


def check_pair(source: TierVersion, target: TierVersion) -> None:
    """Raises InvalidChange unless `target` is another published version of the same tier,
    priced in the same currency."""
    if target.id == source.id:
        raise InvalidChange("toVersionId", "name a version other than the one to move from")
    if target.tier_key != source.tier_key:
        raise InvalidChange(
            "toVersionId", "a version of another tier: change tiers with subscriptionChangeTier"
        )
    if target.published_at is None:
        raise InvalidChange("toVersionId", "a draft: publish it first")
    if target.currency != source.currency:
        raise InvalidChange("toVersionId", f"priced in {target.currency}, not {source.currency}")


async def _pair(
    conn: asyncpg.Connection, from_id: int, to_id: int
) -> tuple[TierVersion, TierVersion]:
    # Read now, not from a cache: whether the target is published decides the move.
    versions = await catalog.tier_versions_by_ids(conn, [from_id, to_id])
    source, target = versions.get(from_id), versions.get(to_id)
    if source is None or target is None:
        raise TargetNotFound("tier version")
    check_pair(source, target)
    return source, target


def _check_size(found: list[repository.OnVersion]) -> None:
    if len(found) > MAX_BATCH:
        raise InvalidChange(
            "fromVersionId",
            f"more than {MAX_BATCH:,} subscriptions are on this version; one call moves "
            f"at most {MAX_BATCH:,}",
        )


async def preview(conn: asyncpg.Connection, from_id: int, to_id: int) -> Migration:
    """Who `migrate` would move now, writing nothing. Raises TargetNotFound or
    InvalidChange (see `check_pair`, and at most MAX_BATCH subscriptions)."""
    source, target = await _pair(conn, from_id, to_id)
    found = await repository.on_version(conn, from_id, MAX_BATCH + 1)
    _check_size(found)
    moved = tuple(Moved(f.account_id, f.account_name, f.subscription) for f in found)
    return Migration(source, target, True, moved)


async def migrate(
    conn: asyncpg.Connection,
    change: ChangeContext,
    from_id: int,
    to_id: int,
    expected_count: int | None,
) -> Migration:
    """Move every live subscription on `from_id` to `to_id`. `expected_count` (from the
    dry run) refuses with VersionConflict when the set has grown or shrunk since. Raises
    as `preview` does, before writing anything."""
    source, target = await _pair(conn, from_id, to_id)
    found = await repository.lock_on_version(conn, from_id, MAX_BATCH + 1)
    _check_size(found)
    if expected_count is not None and expected_count != len(found):
        raise VersionConflict(
            expected_count,
            len(found),
            f"{len(found)} subscriptions are on this version, not {expected_count}: "
            "run the dry run again",
        )
    after = await repository.move(conn, [f.subscription.id for f in found], to_id)
    entry_ids = await _record(conn, change, found, after, (from_id, to_id))
    moved = tuple(
        Moved(
            f.account_id,
            f.account_name,
            f.subscription,
            after[f.subscription.id],
            entry_ids[f.subscription.id],
        )
        for f in found
    )
    return Migration(source, target, False, moved)


async def _record(
    conn: asyncpg.Connection,
    change: ChangeContext,
    found: list[repository.OnVersion],
    after: dict[UUID, Subscription],
    ids: tuple[int, int],
) -> dict[UUID, int]:
    """One audit entry per subscription, one event per account and the accounts'
    suggestion marks, each in one statement; returns the entry id of each subscription."""
    states = [
        (
            f,
            snapshot(f.subscription, f.account_id),
            snapshot(after[f.subscription.id], f.account_id),
        )
        for f in found
    ]
    targets = [(Target(KIND, str(f.subscription.id), f.account_id), b, a) for f, b, a in states]
    entries = await audit.record_many(conn, change, ACTION, targets)
    entry_ids = {f.subscription.id: e for f, e in zip(found, entries, strict=True)}
    detail = {"fromTierVersionId": ids[0], "toTierVersionId": ids[1]}
    payloads: list[tuple[UUID | None, dict[str, Any]]] = [
        (
            f.account_id,
            {
                "action": ACTION,
                "auditEntryId": entry_ids[f.subscription.id],
                "subscription": a,
                "change": detail,
            },
        )
        for f, _, a in states
    ]
    await events.enqueue_many(conn, EVENT, payloads)
    return entry_ids


def result_json(m: Migration) -> dict[str, Any]:
    """The stored result of a migration, which a retry with the same key replays."""
    return {
        "dryRun": m.dry_run,
        "fromVersionId": m.source.id,
        "toVersionId": m.target.id,
        "subscriptions": [
            {
                "subscriptionId": str(s.before.id),
                "accountId": str(s.account_id),
                "accountName": s.account_name,
                "term": s.before.term,
                "version": (s.after or s.before).version,
                "auditEntryId": s.audit_entry_id,
            }
            for s in m.subscriptions
        ],
    }
