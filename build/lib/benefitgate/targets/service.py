"""Outcome target use cases: set and remove them (with an outbox event), and read progress."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import date, datetime
from uuid import UUID

import asyncpg

from benefitgate.catalog.models import Catalog
from benefitgate.common import quantities
from benefitgate.common.changes import InvalidChange
from benefitgate.events import outbox as events
from benefitgate.targets import repository
from benefitgate.targets.models import OutcomeTarget, TargetProgress
from benefitgate.targets.progress import attainment

__all__ = [
    "MAX_NOTE",
    "actuals_between",
    "progress_by_account",
    "remove_target",
    "set_target",
]

MAX_NOTE = 500
SET_EVENT = "outcome_target.set"
REMOVED_EVENT = "outcome_target.removed"


def _validate(target: OutcomeTarget, catalog: Catalog) -> None:
    if target.outcome_key not in catalog.outcomes:
        raise InvalidChange("outcome", f"unknown outcome {target.outcome_key!r}")
    if not quantities.in_range(target.target) or target.target < 0:
        raise InvalidChange("target", "give a target of zero to 10^15")
    if target.ends_on < target.starts_on:
        raise InvalidChange("to", "`to` is before `from`")
    if len(target.note) > MAX_NOTE:
        raise InvalidChange("note", f"at most {MAX_NOTE} characters")


def _payload(target: OutcomeTarget) -> dict[str, object]:
    fields = asdict(target)
    del fields["account_id"], fields["set_at"]
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in fields.items()}


async def set_target(conn: asyncpg.Connection, target: OutcomeTarget, catalog: Catalog) -> bool:
    """Set (or replace) the account's target for an outcome, in the caller's transaction.
    Setting the same target again changes nothing and sends no event; returns whether it
    changed. Raises InvalidChange, before writing, for a bad outcome, amount or range."""
    _validate(target, catalog)
    changed = await repository.upsert_target(conn, target)
    if changed:
        await events.enqueue(conn, SET_EVENT, target.account_id, _payload(target))
    return changed


async def remove_target(
    conn: asyncpg.Connection, account_id: UUID, outcome_key: str, now: datetime
) -> bool:
    removed = await repository.delete_target(conn, account_id, outcome_key)
    if removed is not None:
        await events.enqueue(conn, REMOVED_EVENT, account_id, _payload(removed))
    return removed is not None


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
