"""GraphQL type of a renewal note."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from benefitgate.catalog.types import Benefit, CatalogTypes, Money, money
from benefitgate.impact.types import ImpactSummary, impact_type
from benefitgate.renewals import render
from benefitgate.renewals.models import RenewalNote as NoteModel
from benefitgate.suggestions.types import Suggestion, suggestion_type

__all__ = ["RenewalNote", "note_type"]


@strawberry.type(
    description="What a renewal reminder tells the customer: the value the term delivered "
    "so far, outcomes against targets, benefits used and unused, what is new or changing "
    "at the renewal, and the open suggestion; rendered as plain text and Markdown."
)
class RenewalNote:
    account_id: strawberry.ID
    renews_at: datetime
    days_left: int = strawberry.field(
        description="Calendar days (UTC) from today to the renewal's date; 0 on the day."
    )
    term_from: date
    tier: str = strawberry.field(
        description="The plan's name just before the renewal: after a trial that ends "
        "first has fallen back or converted."
    )
    next_tier: str = strawberry.field(description="The plan's name from the renewal on.")
    price: Money = strawberry.field(
        description="Per term, until the renewal: during a trial (which is free), the price "
        "of the tier it falls back to."
    )
    next_price: Money = strawberry.field(description="Per term, from the renewal on.")
    impact: ImpactSummary = strawberry.field(description="The term so far.")
    benefits_used: list[Benefit] = strawberry.field(description="Measured, used this term.")
    benefits_unused: list[Benefit] = strawberry.field(
        description="Measured (a feature's allowed checks, or a benefit's metric), held since "
        "the term started and not used in it."
    )
    changes: list[str] = strawberry.field(description="What is new or changing, one line each.")
    suggestion: Suggestion | None = strawberry.field(description="The open one, if any.")
    text: str = strawberry.field(description="The note as plain text, for a mailer.")
    markdown: str = strawberry.field(description="The note as Markdown, names escaped.")


def note_type(note: NoteModel, types: CatalogTypes) -> RenewalNote:
    summary = note.summary
    return RenewalNote(
        account_id=strawberry.ID(str(summary.account_id)),
        renews_at=note.renews_at,
        days_left=note.days_left,
        term_from=summary.range.start,
        tier=note.tier_name,
        next_tier=note.next_tier_name,
        price=money(note.price.cents, note.price.currency),
        next_price=money(note.next_price.cents, note.next_price.currency),
        impact=impact_type(summary, types),
        benefits_used=[types.benefits[b.benefit.key] for b in note.used],
        benefits_unused=[types.benefits[b.benefit.key] for b in note.unused],
        changes=list(note.changes),
        suggestion=None if note.suggestion is None else suggestion_type(note.suggestion, types),
        text=render.text(note),
        markdown=render.markdown(note),
    )
