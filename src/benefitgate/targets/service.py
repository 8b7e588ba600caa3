"""Outcome target use cases: set and remove them (each with its audit entry and an outbox
event, the pair locked first), restore one for a rollback, and read progress."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import date
from typing import Any
from uuid import UUID

import asyncpg

from benefitgate.audit import service as audit
from benefitgate.audit.models import AuditEntry, Target
from benefitgate.audit.rollback import refuse_if_changed_since
from benefitgate.catalog.models import Catalog
from benefitgate.common import quantities
from benefitgate.common.changes import ChangeContext, InvalidChange
from benefitgate.common.text import quoted
from benefitgate.events import outbox as events
from benefitgate.targets import repository
from benefitgate.targets.models import OutcomeTarget, TargetProgress
from benefitgate.targets.progress import attainment

__all__ = [
    "KIND",
    "MAX_NOTE",
    "actuals_between",
    "actuals_between_many",
    "progress_by_account",
    "remove_target",
    "roll_back_outcome_target",
    "set_target",
]

MAX_NOTE = 500
SET_EVENT = "outcome_target.set"
REMOVED_EVENT = "outcome_target.removed"
KIND = "outcome_target"


def _validate(target: OutcomeTarget, catalog: Catalog) -> None:
    if target.outcome_key not in catalog.outcomes:
        raise InvalidChange("outcome", f"unknown outcome {quoted(target.outcome_key)}")
    if not quantities.non_negative(target.target):
        raise InvalidChange("target", f"give a target of {quantities.NON_NEGATIVE}")
    measured_by = catalog.outcomes[target.outcome_key].metric_key
    if catalog.counts_whole(measured_by) and not quantities.is_whole(target.target):
        raise InvalidChange("target", quantities.WHOLE)
    if target.ends_on < target.starts_on:
        raise InvalidChange("to", "`to` is before `from`")
    if len(target.note) > MAX_NOTE:
        raise InvalidChange("note", f"at most {MAX_NOTE} characters")


def _payload(target: OutcomeTarget) -> dict[str, Any]:
    fields = asdict(target)
    del fields["account_id"], fields["set_at"]
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in fields.items()}


def _snapshot(target: OutcomeTarget | None) -> dict[str, Any] | None:
    """The target as its audit entries record it: who set it is the entry's actor."""
    if target is None:
        return None
    return {
        "outcome": target.outcome_key,
        "target": target.target,
        "from": target.starts_on.isoformat(),
        "to": target.ends_on.isoformat(),
        "note": target.note,
    }


def _target(account_id: UUID, outcome_key: str) -> Target:
    return Target(KIND, f"{account_id}/{outcome_key}", account_id)


async def set_target(
    conn: asyncpg.Connection, change: ChangeContext, target: OutcomeTarget, catalog: Catalog
) -> AuditEntry | None:
    """Set (or replace) the account's target for an outcome, in the caller's transaction,
    with its audit entry and event. Setting the same target again changes nothing, records
    nothing and returns None. Raises InvalidChange, before writing, for a bad outcome,
    amount or range."""
    _validate(target, catalog)
    return await _put(conn, change, target)


async def _put(
    conn: asyncpg.Connection,
    change: ChangeContext,
    target: OutcomeTarget,
    rollback_of: int | None = None,
) -> AuditEntry | None:
    before = await repository.lock_target(conn, target.account_id, target.outcome_key)
    if not await repository.upsert_target(conn, target):
        return None
    action = SET_EVENT if rollback_of is None else "rollback"
    entry = await audit.record(
        conn, change, action, _target(target.account_id, target.outcome_key),
        _snapshot(before), _snapshot(target), rollback_of,
    )  # fmt: skip
    payload = {**_payload(target), "auditEntryId": entry.id}
    await events.enqueue(conn, SET_EVENT, target.account_id, payload)
    return entry


async def remove_target(
    conn: asyncpg.Connection,
    change: ChangeContext,
    account_id: UUID,
    outcome_key: str,
    rollback_of: int | None = None,
) -> AuditEntry | None:
    """Remove the account's target for the outcome, with its audit entry and event; None
    when there was none."""
    await repository.lock_target(conn, account_id, outcome_key)
    removed = await repository.delete_target(conn, account_id, outcome_key)
    if removed is None:
        return None
    action = REMOVED_EVENT if rollback_of is None else "rollback"
    entry = await audit.record(
        conn, change, action, _target(account_id, outcome_key), _snapshot(removed), None,
        rollback_of,
    )  # fmt: skip
    payload = {**_payload(removed), "auditEntryId": entry.id}
    await events.enqueue(conn, REMOVED_EVENT, account_id, payload)
    return entry


async def roll_back_outcome_target(
    conn: asyncpg.Connection, change: ChangeContext, entry: AuditEntry
) -> AuditEntry:
    """The rollback of an outcome target's entry (see `audit.rollback`): the target as it
    was before (valid when it was recorded), or none."""
    account_id, _, outcome_key = entry.target.id.partition("/")
    account = UUID(account_id)
    await repository.lock_target(conn, account, outcome_key)
    await refuse_if_changed_since(conn, entry)
    before = entry.before
    if before is None:
        undone = await remove_target(conn, change, account, outcome_key, rollback_of=entry.id)
    else:
        wanted = OutcomeTarget(
            account_id=account,
            outcome_key=outcome_key,
            target=float(before["target"]),
            starts_on=date.fromisoformat(before["from"]),
            ends_on=date.fromisoformat(before["to"]),
            note=before["note"],
            set_by=change.actor,
            set_at=change.at,
        )
        undone = await _put(conn, change, wanted, rollback_of=entry.id)
    if undone is None:
        raise InvalidChange("entryId", "the target is so already; nothing to roll back")
    return undone


async def progress_by_account(
    conn: asyncpg.Connection, account_ids: Sequence[UUID], catalog: Catalog, today: date
) -> dict[UUID, list[TargetProgress]]:
    """Every target of the accounts with its actual and attainment, in one statement."""
    progress: dict[UUID, list[TargetProgress]] = {a: [] for a in account_ids}
    for target, actual in await repository.targets_with_actuals(conn, account_ids, today):
        direction = catalog.outcomes[target.outcome_key].direction
        percent, met = attainment(direction, target.target, actual)
        progress[target.account_id].append(TargetProgress(target, actual, percent, met))
    return progress


async def actuals_between(
    conn: asyncpg.Connection, account_id: UUID, first: date, last: date
) -> list[tuple[OutcomeTarget, float | None]]:
    """The account's targets overlapping `first` to `last`, each with its outcome's actual
    over its days within them."""
    return await repository.targets_with_actuals(conn, [account_id], last, since=first)


async def actuals_between_many(
    conn: asyncpg.Connection, account_ids: Sequence[UUID], first: date, last: date
) -> dict[UUID, list[tuple[OutcomeTarget, float | None]]]:
    """`actuals_between` for many accounts in one statement, by account."""
    found: dict[UUID, list[tuple[OutcomeTarget, float | None]]] = {}
    for target, actual in await repository.targets_with_actuals(conn, account_ids, last, first):
        found.setdefault(target.account_id, []).append((target, actual))
    return found
