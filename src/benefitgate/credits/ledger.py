"""How draws are taken from lots, and the ledger and balance of an account's credits. Pure.

Draws take from the lot that ends soonest (never-ending lots last; then the oldest), so
credit that would expire is used first. A lot that ends with something left records that
remainder as expired at its end.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from benefitgate.credits.models import Credit, Draw, LedgerEntry, Lot

__all__ = ["allocate", "balance_of", "credits_of", "spending_order"]


def spending_order(lots: Sequence[Lot]) -> list[Lot]:
    return sorted(
        lots,
        key=lambda lot: (
            lot.ends_at is None,
            lot.ends_at.timestamp() if lot.ends_at else 0.0,
            lot.valid_from,
            str(lot.grant_id),
        ),
    )


def balance_of(lots: Sequence[Lot], now: datetime) -> Decimal:
    return sum((lot.left for lot in lots if lot.active(now)), Decimal(0))


def allocate(lots: Sequence[Lot], amount: Decimal, now: datetime) -> list[tuple[Lot, Decimal]]:
    """The takes of `amount` from the lots in force, in spending order. Precondition:
    `balance_of(lots, now) >= amount`."""
    takes: list[tuple[Lot, Decimal]] = []
    wanted = amount
    for lot in spending_order([lot for lot in lots if lot.active(now)]):
        if wanted <= 0:
            break
        take = min(lot.left, wanted)
        if take > 0:
            takes.append((lot, take))
            wanted -= take
    assert wanted <= 0, "allocate needs a balance of at least the amount"
    return takes


def _entries(lot: Lot, draws: Sequence[Draw], now: datetime) -> list[LedgerEntry]:
    entries = [LedgerEntry(lot.valid_from, "granted", lot.amount, lot.grant_id, None)]
    entries += [LedgerEntry(d.at, "consumed", -d.amount, d.grant_id, d.metric_key) for d in draws]
    if lot.ends_at is not None and lot.ends_at <= now and lot.left > 0:
        entries.append(LedgerEntry(lot.ends_at, "expired", -lot.left, lot.grant_id, None))
    return entries


def credits_of(lots: Sequence[Lot], draws: Sequence[Draw], now: datetime) -> list[Credit]:
    """Each credit benefit of one account, by key: its balance, when some of it expires
    next, and its ledger newest first. Lots starting after `now` are left out; `draws`
    may be the newest few only (lots carry their totals drawn)."""
    by_grant: dict[UUID, list[Draw]] = defaultdict(list)
    for d in draws:
        by_grant[d.grant_id].append(d)
    by_benefit: dict[str, list[Lot]] = defaultdict(list)
    for lot in lots:
        if lot.valid_from <= now:
            by_benefit[lot.benefit_key].append(lot)
    credits = []
    for key in sorted(by_benefit):
        held = by_benefit[key]
        ledger = [e for lot in held for e in _entries(lot, by_grant[lot.grant_id], now)]
        ledger.sort(key=lambda e: (e.at, e.kind != "granted"), reverse=True)
        ends = [lot.ends_at for lot in held if lot.active(now) and lot.left > 0 and lot.ends_at]
        credits.append(Credit(key, balance_of(held, now), min(ends, default=None), ledger))
    return credits
