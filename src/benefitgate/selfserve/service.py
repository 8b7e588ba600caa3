"""Self-serve actions on an account's subscription, and their previews.

An action is the transition `rules` allows, applied through the subscriptions' own step
(`subscriptions.service.apply`): the row locked at the caller's version, the change saved,
audited with the caller as actor and reported with a `subscription.changed` event in the
caller's transaction. The period's end is the scheduler's, as for internal tools' changes.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from benefitgate.accounts.models import Subscription
from benefitgate.audit.models import AuditEntry
from benefitgate.catalog.models import Catalog
from benefitgate.common.changes import ChangeContext, Forbidden, TargetNotFound
from benefitgate.common.text import quoted
from benefitgate.selfserve import rules
from benefitgate.selfserve.models import Action, Policy, Request
from benefitgate.subscriptions import service as subscriptions
from benefitgate.subscriptions import trials
from benefitgate.subscriptions.transitions import Transition

__all__ = ["act", "preview"]


async def _tried(conn: asyncpg.Connection, account_id: UUID, request: Request) -> bool:
    if request.action is not Action.START_TRIAL or not request.tier:
        return False
    return await trials.had_trial(conn, account_id, request.tier)


async def act(
    conn: asyncpg.Connection,
    change: ChangeContext,
    account_id: UUID,
    expected_version: int,
    request: Request,
    policy: Policy,
    catalog: Catalog,
) -> tuple[Transition, AuditEntry]:
    """Apply the request to the account's subscription. Raises Forbidden (the policy, the
    rules of self-service), TargetNotFound, VersionConflict or InvalidChange."""
    tried = await _tried(conn, account_id, request)

    def step(before: Subscription) -> Transition:
        return rules.transition(policy, request, before, catalog, change.at, tried)

    done, entry = await subscriptions.apply(conn, change, account_id, expected_version, step)
    if request.action is Action.START_TRIAL:
        assert request.tier is not None  # the transition refuses a trial without one
        if not await trials.note_trial(conn, account_id, request.tier, change.at):
            # Another trial of the tier started since `_tried` read: the same refusal.
            raise Forbidden(f"the account has had a trial of {quoted(request.tier)}")
    return done, entry


async def preview(
    conn: asyncpg.Connection,
    account_id: UUID,
    sub: Subscription | None,
    request: Request,
    policy: Policy,
    catalog: Catalog,
    now: datetime,
) -> rules.Preview:
    """What `act` would do to `sub` now, refused as `act` would refuse it."""
    if sub is None:
        raise TargetNotFound("subscription")
    tried = await _tried(conn, account_id, request)
    step = rules.transition(policy, request, sub, catalog, now, tried)
    return rules.preview(request, sub, step, catalog, now)
