"""What a unit of an outcome is worth (an hour saved at a loaded hourly rate, say): set by
internal tools, audited, sent as a `catalog.outcome_value_set` event, and used by impact
summaries to estimate the value delivered."""

from __future__ import annotations

from dataclasses import asdict

import asyncpg

from benefitgate.audit.models import AuditEntry
from benefitgate.catalog import repository
from benefitgate.catalog.models import Outcome
from benefitgate.catalog.service import record_change
from benefitgate.common.changes import ChangeContext, InvalidChange, TargetNotFound
from benefitgate.common.currencies import is_currency

__all__ = ["MAX_CENTS", "set_outcome_value"]

MAX_CENTS = 10**12


def _check(cents: int | None, currency: str | None) -> None:
    if (cents is None) != (currency is None):
        raise InvalidChange("currency", "give an amount and its currency together, or neither")
    if cents is not None and not 0 <= cents <= MAX_CENTS:
        raise InvalidChange("amountCents", f"between 0 and {MAX_CENTS}")
    if currency is not None and not is_currency(currency):
        raise InvalidChange("currency", "an active ISO 4217 code such as USD")


async def set_outcome_value(
    conn: asyncpg.Connection,
    change: ChangeContext,
    key: str,
    cents: int | None,
    currency: str | None,
) -> tuple[Outcome, AuditEntry]:
    """Set (or, with None, clear) the value per unit of an outcome. Raises InvalidChange
    or TargetNotFound."""
    _check(cents, currency)
    changed = await repository.set_outcome_value(conn, key, cents, currency)
    if changed is None:
        raise TargetNotFound("outcome")
    before, after = changed
    event = ("catalog.outcome_value_set", {"outcome": key})
    states = (asdict(before), asdict(after))
    entry = await record_change(conn, change, "outcome.value_set", ("outcome", key), states, event)
    return after, entry
