"""Defining milestones (admins): validated per kind, versioned, audited, reported."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from typing import Any

import asyncpg

from benefitgate.audit import service as audit
from benefitgate.audit.models import AuditEntry, Target
from benefitgate.catalog.models import Catalog
from benefitgate.common import quantities
from benefitgate.common.changes import ChangeContext, InvalidChange, VersionConflict, expect_version
from benefitgate.common.text import a_or_an, quoted
from benefitgate.entitlements import grants
from benefitgate.events import outbox as events
from benefitgate.milestones import repository
from benefitgate.milestones.models import Milestone, Reward

__all__ = ["EVENT", "arguments", "define", "from_snapshot", "snapshot", "validate"]

EVENT = "milestone.defined"
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_NEEDS = {
    "usage_threshold": ("metric_key", "threshold"),
    "sustained_usage": ("metric_key", "threshold", "periods"),
    "renewal_anniversary": ("periods",),
    "outcome_target": ("outcome_key",),
    "seat_utilisation": ("threshold",),
}
_FIELD = {
    "metric_key": "metric",
    "threshold": "threshold",
    "periods": "periods",
    "outcome_key": "outcome",
}


def validate(m: Milestone, catalog: Catalog) -> None:
    """Raises InvalidChange naming the first field that does not fit the milestone's kind."""
    if not _KEY.match(m.key):
        raise InvalidChange("key", "lower-case letters, digits and _, starting with a letter")
    if not 0 < len(m.name) <= 200:
        raise InvalidChange("name", "give a name of 1 to 200 characters")
    needs = _NEEDS[m.kind]
    for attribute, field in _FIELD.items():
        given = getattr(m, attribute) is not None
        if given != (attribute in needs):
            verb = "needs" if attribute in needs else "takes no"
            raise InvalidChange(field, f"{a_or_an(m.kind)} milestone {verb} {field}")
    if m.metric_key is not None and m.metric_key not in catalog.metrics:
        raise InvalidChange("metric", f"unknown metric {quoted(m.metric_key)}")
    if m.outcome_key is not None and m.outcome_key not in catalog.outcomes:
        raise InvalidChange("outcome", f"unknown outcome {quoted(m.outcome_key)}")
    if m.threshold is not None and not (m.threshold > 0 and quantities.in_range(m.threshold)):
        raise InvalidChange("threshold", "give a positive threshold from 10^-12 to 10^15")
    whole = catalog.counts_whole(m.metric_key)
    if m.threshold is not None and whole and not quantities.is_whole(m.threshold):
        raise InvalidChange("threshold", quantities.WHOLE)
    if m.kind == "seat_utilisation" and m.threshold is not None and m.threshold > 1:
        raise InvalidChange("threshold", "a seat share is at most 1 (all seats)")
    if m.periods is not None and not 0 < m.periods <= 100:
        raise InvalidChange("periods", "give 1 to 100 periods")
    _validate_reward(m, catalog)


def _validate_reward(m: Milestone, catalog: Catalog) -> None:
    reward = m.reward
    if reward is None:
        return
    benefit = catalog.benefits.get(reward.benefit_key)
    if benefit is None or benefit.retired_on is not None:
        raise InvalidChange("reward.benefit", f"no current benefit {quoted(reward.benefit_key)}")
    if benefit.kind in ("limit", "credit") and reward.amount is None:
        raise InvalidChange("reward.amount", f"a {benefit.kind} reward needs an amount")
    # The reward is granted as any grant is: refused here as the grant would refuse it.
    if benefit.kind == "credit" and quantities.credit_amount(reward.amount or 0) is None:
        raise InvalidChange("reward.amount", quantities.CREDIT_AMOUNT)
    if reward.amount is not None and not quantities.non_negative(reward.amount):
        raise InvalidChange("reward.amount", f"give an amount of {quantities.NON_NEGATIVE}")
    misfit = grants.amount_misfit(reward.amount, benefit, catalog)
    if misfit is not None:
        raise InvalidChange("reward.amount", misfit)
    if reward.days is not None and not 0 < reward.days <= 3660:
        raise InvalidChange("reward.days", "give 1 to 3660 days, or none for no end")


def snapshot(m: Milestone) -> dict[str, Any]:
    reward = m.reward
    return {
        "key": m.key, "name": m.name, "description": m.description, "kind": m.kind,
        "metric": m.metric_key, "threshold": m.threshold, "periods": m.periods,
        "outcome": m.outcome_key, "repeatable": m.repeatable, "active": m.active,
        "reward": None if reward is None else {
            "benefit": reward.benefit_key, "amount": reward.amount, "days": reward.days},
        "version": m.version, "createdAt": m.created_at.isoformat(),
    }  # fmt: skip


def from_snapshot(state: dict[str, Any]) -> Milestone:
    """The milestone a snapshot recorded (a stored result, replayed)."""
    reward = state["reward"]
    return Milestone(
        key=state["key"], name=state["name"], description=state["description"],
        kind=state["kind"], metric_key=state["metric"], threshold=state["threshold"],
        periods=state["periods"], outcome_key=state["outcome"],
        repeatable=state["repeatable"], active=state["active"],
        reward=None if reward is None else Reward(
            reward["benefit"], reward["amount"], reward["days"]),
        created_at=datetime.fromisoformat(state["createdAt"]), version=state["version"],
    )  # fmt: skip


def arguments(m: Milestone) -> dict[str, Any]:
    """What makes two definitions the same request: the definition, not when it came."""
    return {k: v for k, v in snapshot(m).items() if k not in ("createdAt", "version")}


async def _store(
    conn: asyncpg.Connection, wanted: Milestone, expected_version: int | None
) -> tuple[Milestone, Milestone | None]:
    """Create (no `expected_version`) or replace at that version; the stored milestone and
    the one it replaced. Of concurrent creates of one key exactly one succeeds: the insert
    of the others finds the key taken. Raises VersionConflict."""
    if expected_version is None:
        created = await repository.create_milestone(conn, wanted)
        if created is None:
            current = await repository.lock_milestone(conn, wanted.key)
            raise VersionConflict(0, current.version if current else 0)
        return created, None
    before = await repository.lock_milestone(conn, wanted.key)
    if before is None:
        raise VersionConflict(expected_version, 0)
    expect_version(expected_version, before.version)
    return await repository.replace_milestone(conn, wanted), before


async def define(
    conn: asyncpg.Connection,
    change: ChangeContext,
    wanted: Milestone,
    expected_version: int | None,
    catalog: Catalog,
) -> tuple[Milestone, AuditEntry]:
    """Create the milestone (`expected_version` None) or replace its definition at that
    version. Achievements already made stand. Raises InvalidChange or VersionConflict."""
    validate(wanted, catalog)
    stored, before = await _store(conn, replace(wanted, created_at=change.at), expected_version)
    action = "milestone.created" if before is None else "milestone.updated"
    target = Target("milestone", stored.key, None)
    after = snapshot(stored)
    entry = await audit.record(
        conn, change, action, target, None if before is None else snapshot(before), after, None
    )
    await events.enqueue(
        conn, EVENT, None, {"action": action, "auditEntryId": entry.id, "milestone": after}
    )
    return stored, entry
