"""Setting how many seats the account has purchased, as a billing system does when the
customer buys or drops seats. Below the seats assigned it is refused unless the users to
release are named; those are released first, each audited as a release, and the change of
the purchased count is audited as a subscription change. One transaction; the
subscription row is locked at the version the caller read, so a race with another change
of the subscription is a VERSION_CONFLICT, never a count below the seats held.

The seats domain also rolls back a subscription's changes (`roll_back_subscription`), since
a rollback restores the purchased count with the rest and must not leave it below the
seats held either."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import asyncpg

from benefitgate.audit.models import AuditEntry
from benefitgate.common.changes import ChangeContext, InvalidChange, SeatsExhausted
from benefitgate.common.text import counted
from benefitgate.seats import repository
from benefitgate.seats.service import release_seat
from benefitgate.subscriptions.provisioning import MAX_SEATS
from benefitgate.subscriptions.service import (
    lock_at_version,
    record_change,
    restore_subscription,
    rollback_target,
    set_seats,
)

__all__ = ["roll_back_subscription", "set_purchased"]


async def set_purchased(
    conn: asyncpg.Connection,
    change: ChangeContext,
    account_id: UUID,
    purchased: int,
    expected_version: int,
    release: Sequence[str],
) -> AuditEntry:
    """Set the purchased seats, releasing the `release` users first. Raises InvalidChange
    when the count is out of range, below the seats still held after the releases, or the
    subscription is canceled (then nothing is released either)."""
    if not 1 <= purchased <= MAX_SEATS:
        raise InvalidChange("purchased", f"give 1 to {MAX_SEATS:,} seats")
    before = await lock_at_version(conn, account_id, expected_version, change.at)
    if before.status == "canceled":  # as every other change of a subscription
        raise InvalidChange("accountId", "the subscription is canceled")
    for user in dict.fromkeys(release):
        await release_seat(conn, change, account_id, user)
    held = await repository.open_count(conn, account_id)
    if held > purchased:
        raise InvalidChange(
            "purchased",
            f"{held} seats are assigned; name at least {counted(held - purchased, 'more user')} to "
            "release in `release`",
        )
    after = await set_seats(conn, before, purchased)
    details = {"seatsBefore": before.seats}
    return await record_change(
        conn, change, "subscription.seats_set", account_id, (before, after), details
    )


async def roll_back_subscription(
    conn: asyncpg.Connection, change: ChangeContext, entry: AuditEntry
) -> AuditEntry:
    """The rollback of a subscription's audit entry (`subscriptions.service`'s rules),
    refused with SeatsExhausted, before anything is written, when the purchased count it
    restores is below the seats held now: release seats first. The subscription row is
    locked before the count, and every seat change locks it too, so the count holds."""
    current, wanted = await rollback_target(conn, entry, change.at)
    account_id = entry.target.account_id
    assert account_id is not None  # every subscription entry names its account
    held = await repository.open_count(conn, account_id)
    if held > wanted.seats:
        raise SeatsExhausted(
            wanted.seats,
            held,
            f"{held} seats are assigned, and rolling back entry #{entry.id} would leave "
            f"{wanted.seats} purchased: release {counted(held - wanted.seats, 'seat')} first",
        )
    return await restore_subscription(conn, change, (current, wanted), entry)
