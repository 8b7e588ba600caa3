"""A renewal note assembled from what other domains computed. Pure.

- The term so far is the impact summary from the current period's start to today.
- Used: measured benefits used at some time in the term; unused: measured benefits held
  since the term started and not used in it (see `adoption`).
- The renewal is the one the subscription will reach (`coming_renewal`): a trial that
  ends before it has fallen back (or converted) by then, and a trial is free, so the
  price now is that of the tier the trial falls back to.
- What changes at the renewal: the move to another tier or version (its diff: prices,
  benefits, limits, exclusions, support), a term change, and what the catalog added since
  the last renewal.
"""

from __future__ import annotations

from datetime import datetime

from benefitgate.accounts.models import Account
from benefitgate.adoption.models import BenefitAdoption
from benefitgate.catalog.diff import TierVersionDiff, diff_versions
from benefitgate.catalog.models import Catalog
from benefitgate.clock import days_until
from benefitgate.common.quantities import figure
from benefitgate.impact.models import ImpactSummary
from benefitgate.renewals.models import Money, RenewalNote
from benefitgate.renewals.render import one_line
from benefitgate.subscriptions.lifecycle import coming_renewal, paid_version
from benefitgate.subscriptions.proration import price_cents
from benefitgate.suggestions.models import Suggestion

__all__ = ["compose"]


def compose(
    account: Account,
    summary: ImpactSummary,
    held: tuple[BenefitAdoption, ...],
    suggestion: Suggestion | None,
    catalog: Catalog,
    now: datetime,
) -> RenewalNote:
    """The note for an account whose subscription renews (not canceled, not ending)."""
    sub = account.subscription
    assert sub is not None
    before, step = coming_renewal(sub, catalog)  # a trial ending first has ended then
    renewing = catalog.versions[before.tier_version_id]
    onto = catalog.versions[step.after.tier_version_id]
    paid = paid_version(sub, catalog)
    diff = diff_versions(renewing, onto)
    term_start, _ = summary.range.instants()  # the term's exact start
    return RenewalNote(
        account_name=account.name,
        renews_at=step.at,
        days_left=days_until(step.at, now),
        tier_name=renewing.name,
        next_tier_name=onto.name,
        price=Money(price_cents(paid, sub.term), paid.currency),
        next_price=Money(step.details["priceCents"], step.details["currency"]),
        term=step.after.term,
        summary=summary,
        used=tuple(b for b in held if b.last_used_at is not None and b.last_used_at >= term_start),
        unused=tuple(b for b in held if b.unused_since(term_start)),
        changes=_changes(before.term, step.after.term, diff, summary, catalog),
        suggestion=suggestion if suggestion is not None and suggestion.status == "open" else None,
        tier_names={v.tier_key: v.name for v in catalog.ladder(now)},
    )


def _changes(
    term: str, next_term: str, diff: TierVersionDiff, summary: ImpactSummary, catalog: Catalog
) -> tuple[str, ...]:
    lines = []
    before, after = diff.before, diff.after
    if before.tier_key != after.tier_key:
        lines.append(f"Your plan moves from {before.name} to {after.name}.")
    elif before.id != after.id:
        lines.append(f"{after.name} renews onto its current version ({after.version}).")
    if term != next_term:
        lines.append(f"Your term changes from {term} to {next_term}.")
    price = diff.price(next_term)
    if price.before != price.after:
        was, now = price.before, price.after
        lines.append(
            f"Price per {next_term} term: {Money(was.cents, was.currency)} "
            f"-> {Money(now.cents, now.currency)}."
        )
    lines.extend(_benefit_lines(diff, catalog))
    lines.extend(_limit_lines(diff, catalog))
    if diff.support is not None:
        s = diff.support.after
        lines.append(f"Support becomes {s.level} ({s.first_response_hours} h first response).")
    if summary.new_benefits:
        names = ", ".join(b.name for b in summary.new_benefits)
        lines.append(f"New in the catalog since your last renewal: {names}.")
    return tuple(one_line(line) for line in lines)  # one line each, whatever the names


def _benefit_lines(diff: TierVersionDiff, catalog: Catalog) -> list[str]:
    def name(key: str) -> str:
        benefit = catalog.benefits.get(key)
        return benefit.name if benefit else key

    lines = [f"Adds {name(b.benefit_key)}." for b in diff.benefits.added]
    lines += [f"No longer includes {name(b.benefit_key)}." for b in diff.benefits.removed]
    lines += [f"{name(c.after.benefit_key)} changes its terms." for c in diff.benefits.changed]
    return lines


def _limit_lines(diff: TierVersionDiff, catalog: Catalog) -> list[str]:
    def name(key: str) -> str:
        metric = catalog.metrics.get(key)
        return f"{metric.name} ({metric.unit})" if metric else key

    def amount(included: float | None) -> str:
        return "unlimited" if included is None else figure(included)

    lines = [f"New limit: {name(x.metric_key)} {amount(x.included)}." for x in diff.limits.added]
    lines += [f"No longer limited: {name(x.metric_key)}." for x in diff.limits.removed]
    lines += [
        f"{name(c.after.metric_key)}: {amount(c.before.included)} -> {amount(c.after.included)}."
        for c in diff.limits.changed
    ]
    return lines
