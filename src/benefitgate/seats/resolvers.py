"""Seat mutations: assign and release (internal tools), and report activity."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Annotated, Any
from uuid import UUID

import asyncpg
import strawberry

from benefitgate.accounts.access import visible_account
from benefitgate.accounts.models import Account
from benefitgate.api.changes import Applied, ChangeError, run_change
from benefitgate.api.context import Info
from benefitgate.api.errors import ForbiddenError, InvalidInputError, NotFoundError
from benefitgate.api.scalars import parse_id
from benefitgate.audit.models import AuditEntry
from benefitgate.auth.principals import Role
from benefitgate.catalog.cache import catalog_of
from benefitgate.common.changes import ChangeContext, InvalidChange
from benefitgate.seats import purchased as purchased_seats
from benefitgate.seats import service
from benefitgate.seats.types import SeatActivityRecorded, SeatChanged, SeatsPurchased

__all__ = ["SeatMutation"]

MAX_ACTIVITY_USERS = 1000

SeatChangeResult = Annotated[SeatChanged | ChangeError, strawberry.union("SeatChangeResult")]
SeatsPurchasedResult = Annotated[
    SeatsPurchased | ChangeError, strawberry.union("SeatsPurchasedResult")
]
SeatActivityResult = Annotated[
    SeatActivityRecorded | NotFoundError | ForbiddenError | InvalidInputError,
    strawberry.union("SeatActivityResult"),
]


def _answer(user: str, applied: Applied | ChangeError) -> SeatChangeResult:
    if not isinstance(applied, Applied):
        return applied
    return SeatChanged(
        user=user,
        held=applied.result["held"],
        audit_entry_id=strawberry.ID(str(applied.result["auditEntryId"])),
        replayed=applied.replayed,
    )


async def _account(info: Info, raw_id: str) -> Account | None:
    account_id = parse_id(raw_id)
    if account_id is None:
        return None
    return await visible_account(info, account_id)


SeatChange = Callable[[asyncpg.Connection, ChangeContext, UUID, str], Awaitable[AuditEntry]]


async def _change_seat(
    info: Info,
    operation: str,
    apply: SeatChange,
    raw_account_id: str,
    user: str,
    *,
    key: str,
    reason: str,
) -> SeatChangeResult:
    account = await _account(info, raw_account_id)
    if account is None:
        return NotFoundError.of("account")

    async def effect(conn: asyncpg.Connection, change: ChangeContext) -> dict[str, Any]:
        entry = await apply(conn, change, account.id, user)
        return {"held": entry.after is not None, "auditEntryId": entry.id}

    applied = await run_change(
        info,
        operation=operation,
        key=key,
        reason=reason,
        arguments={"account": str(account.id), "user": user},
        effect=effect,
    )
    return _answer(user, applied)


@strawberry.type
class SeatMutation:
    @strawberry.mutation(
        description="Give a user one of the account's purchased seats. Fails with "
        "SEATS_EXHAUSTED when all are assigned, however many requests race."
    )
    async def seat_assign(
        self,
        info: Info,
        account_id: strawberry.ID,
        user: str,
        idempotency_key: str,
        reason: str = "",
    ) -> SeatChangeResult:
        catalog = await catalog_of(info.context)
        return await _change_seat(
            info,
            "seatAssign",
            partial(service.assign_seat, catalog=catalog),
            account_id,
            user,
            key=idempotency_key,
            reason=reason,
        )

    @strawberry.mutation(description="Free the seat a user holds.")
    async def seat_release(
        self,
        info: Info,
        account_id: strawberry.ID,
        user: str,
        idempotency_key: str,
        reason: str = "",
    ) -> SeatChangeResult:
        return await _change_seat(
            info,
            "seatRelease",
            service.release_seat,
            account_id,
            user,
            key=idempotency_key,
            reason=reason,
        )

    @strawberry.mutation(
        description="Report that users were active now, for the allocation view's "
        "`lastActiveAt`. Partners may report for their accounts."
    )
    async def seat_activity(
        self, info: Info, account_id: strawberry.ID, users: list[str]
    ) -> SeatActivityResult:
        context = info.context
        if context.principal.role is Role.FRONTEND:
            return ForbiddenError.of("frontends cannot report seat activity")
        account = await _account(info, account_id)
        if account is None:
            return NotFoundError.of("account")
        if len(users) > MAX_ACTIVITY_USERS:
            return InvalidInputError.of("users", f"at most {MAX_ACTIVITY_USERS} users a call")
        try:
            async with context.db.acquire() as conn:
                marked = await service.record_activity(conn, account.id, users, context.now)
        except InvalidChange as exc:
            return InvalidInputError.of(exc.field, str(exc))
        return SeatActivityRecorded(marked=marked)

    @strawberry.mutation(
        description="Set the seats the account has purchased. Below the seats assigned it is "
        "refused unless `release` names enough users, whose seats are released first."
    )
    async def seats_set_purchased(
        self,
        info: Info,
        account_id: strawberry.ID,
        purchased: int,
        expected_version: int,
        idempotency_key: str,
        release: list[str] | None = None,
        reason: str = "",
    ) -> SeatsPurchasedResult:
        account = await _account(info, account_id)
        if account is None:
            return NotFoundError.of("account")
        users = release or []

        async def effect(conn: asyncpg.Connection, change: ChangeContext) -> dict[str, Any]:
            entry = await purchased_seats.set_purchased(
                conn, change, account.id, purchased, expected_version, users
            )
            held = len((await service.seats_by_account(conn, [account.id])).get(account.id, []))
            return {"auditEntryId": entry.id, "assigned": held}

        applied = await run_change(
            info,
            operation="seatsSetPurchased",
            key=idempotency_key,
            reason=reason,
            arguments={"account": str(account.id), "purchased": purchased,
                       "version": expected_version, "release": users},
            effect=effect,
        )  # fmt: skip
        if not isinstance(applied, Applied):
            return applied
        return SeatsPurchased(
            purchased=purchased,
            assigned=applied.result["assigned"],
            audit_entry_id=strawberry.ID(str(applied.result["auditEntryId"])),
            replayed=applied.replayed,
        )
