"""A new tier version from a partial spec over the tier's newest version. Pure.

An edit is "a new version with these changes": every field the spec leaves out (None)
copies from the base version; a list given replaces the base's list whole. Validation
names the field at fault with its path inside the spec (`limits[1].included`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from benefitgate.catalog.models import (
    Catalog,
    Exclusion,
    IncludedBenefit,
    TierLimit,
    TierOutcome,
    TierVersion,
)
from benefitgate.common import quantities
from benefitgate.common.changes import InvalidChange
from benefitgate.common.currencies import is_currency
from benefitgate.common.text import quoted, trimmed

__all__ = ["MAX_PARTS", "TierDraft", "build_draft", "check_text", "check_tier"]

MAX_PARTS = 200  # entries in any one list of a spec
_KEY = re.compile(r"[a-z][a-z0-9_]{0,62}")
_ENFORCEMENTS = ("hard", "soft", "unlimited")
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class TierDraft:
    """What the caller gives for a new version; None copies from the base version."""

    tier_key: str
    based_on: int | None  # the version number it edits; None: a new tier
    name: str | None = None  # a new tier's only
    rank: int | None = None  # a new tier's only
    value_narrative: str | None = None
    currency: str | None = None
    monthly_price_cents: int | None = None
    annual_price_cents: int | None = None
    support_level: str | None = None
    support_first_response_hours: int | None = None
    support_channels: tuple[str, ...] | None = None
    outcomes: tuple[TierOutcome, ...] | None = None
    limits: tuple[TierLimit, ...] | None = None
    benefits: tuple[IncludedBenefit, ...] | None = None
    exclusions: tuple[Exclusion, ...] | None = None


def check_tier(draft: TierDraft) -> None:
    """A new tier needs a key, a name and a rank; an existing tier's name and rank are not
    a version's to change. Raises InvalidChange."""
    if draft.based_on is not None:
        check_text("tier", draft.tier_key, 1, 63)
        if draft.based_on < 1:
            raise InvalidChange("basedOn", "a version number, or null for a new tier")
        for field, value in (("name", draft.name), ("rank", draft.rank)):
            if value is not None:
                raise InvalidChange(field, "a tier's name and rank are set when it is created")
        return
    if not _KEY.fullmatch(draft.tier_key):
        raise InvalidChange("tier", "a key of lowercase letters, digits and _ (at most 63)")
    if draft.name is None:
        raise InvalidChange("name", "a new tier needs a name")
    check_text("name", draft.name, 1, 100)
    if draft.rank is None or draft.rank < 0:
        raise InvalidChange("rank", "a new tier needs a rank of zero or more")


def _pick(given: _T | None, base: TierVersion | None, attr: str, field: str) -> _T:
    if given is not None:
        return given
    if base is None:
        raise InvalidChange(field, "required for a new tier")
    value: _T = getattr(base, attr)
    return value


def build_draft(
    draft: TierDraft, base: TierVersion | None, catalog: Catalog, at: datetime
) -> TierVersion:
    """The draft as it will be stored (id 0 until written), numbered after `base`, the
    tier's newest version (None for a new tier, checked by `check_tier`). Raises
    InvalidChange naming the field at fault."""
    version = TierVersion(
        id=0,
        tier_key=draft.tier_key,
        name=base.name if base else draft.name or "",
        rank=base.rank if base else draft.rank or 0,
        version=1 if base is None else base.version + 1,
        value_narrative=_pick(draft.value_narrative, base, "value_narrative", "valueNarrative"),
        currency=_pick(draft.currency, base, "currency", "currency"),
        monthly_price_cents=_pick(
            draft.monthly_price_cents, base, "monthly_price_cents", "monthlyPriceCents"
        ),
        annual_price_cents=_pick(
            draft.annual_price_cents, base, "annual_price_cents", "annualPriceCents"
        ),
        support_level=_pick(draft.support_level, base, "support_level", "supportLevel"),
        support_first_response_hours=_pick(
            draft.support_first_response_hours,
            base,
            "support_first_response_hours",
            "supportFirstResponseHours",
        ),
        support_channels=_pick(draft.support_channels, base, "support_channels", "supportChannels"),
        # A draft takes effect when it is published; until then this is only a placeholder.
        effective_from=at,
        published_at=None,
    )
    version = replace(
        version,
        outcomes=_parts(draft.outcomes, base, "outcomes"),
        limits=_parts(draft.limits, base, "limits"),
        benefits=_parts(draft.benefits, base, "benefits"),
        exclusions=_parts(draft.exclusions, base, "exclusions"),
    )
    _check_terms(version)
    _check_outcomes(version.outcomes, catalog)
    _check_limits(version.limits, catalog)
    _check_benefits(version.benefits, base, catalog, at)
    _check_exclusions(version, catalog)
    return version


def _parts(given: tuple[_T, ...] | None, base: TierVersion | None, attr: str) -> tuple[_T, ...]:
    if given is not None:
        if len(given) > MAX_PARTS:
            raise InvalidChange(attr, f"at most {MAX_PARTS} entries")
        return given
    return () if base is None else tuple(getattr(base, attr))


def check_text(field: str, value: str, shortest: int, longest: int) -> None:
    """Raises InvalidChange unless `value` has `shortest` to `longest` characters (blank
    ones at either end aside for `shortest`, whitespace and invisible format characters
    alike (see common/text.py); counted for `longest`, since the value is stored as given:
    a short name padded with thousands of blanks passed). A NUL character never gets this
    far: see graphql/unstorable.py."""
    if len(value) > longest or len(trimmed(value)) < shortest:
        raise InvalidChange(field, f"give {shortest} to {longest} characters")


def _check_terms(v: TierVersion) -> None:
    check_text("valueNarrative", v.value_narrative, 1, 4000)
    if not is_currency(v.currency):
        raise InvalidChange("currency", "an active ISO 4217 code such as USD")
    for field, cents in (
        ("monthlyPriceCents", v.monthly_price_cents),
        ("annualPriceCents", v.annual_price_cents),
    ):
        if cents < 0:
            raise InvalidChange(field, "a price cannot be negative")
    check_text("supportLevel", v.support_level, 1, 100)
    if v.support_first_response_hours <= 0:
        raise InvalidChange("supportFirstResponseHours", "give a positive number of hours")
    if not v.support_channels or len(v.support_channels) > 20:
        raise InvalidChange("supportChannels", "name 1 to 20 channels")
    for i, channel in enumerate(v.support_channels):
        check_text(f"supportChannels[{i}]", channel, 1, 50)
    _check_unique("supportChannels", v.support_channels, lambda c: c, "channel")


def _check_unique(field: str, items: Sequence[_T], key: Callable[[_T], str], what: str) -> None:
    seen: set[str] = set()
    for i, item in enumerate(items):
        if key(item) in seen:
            raise InvalidChange(f"{field}[{i}]", f"{what} {quoted(key(item))} is given twice")
        seen.add(key(item))


def _check_known(field: str, key: str, known: Any, what: str) -> None:
    if key not in known:
        raise InvalidChange(field, f"unknown {what} {quoted(key)}")


def _check_outcomes(outcomes: Sequence[TierOutcome], catalog: Catalog) -> None:
    for i, o in enumerate(outcomes):
        _check_known(f"outcomes[{i}].outcome", o.outcome_key, catalog.outcomes, "outcome")
        # A target is an amount to reach, as `outcomeTargetSet` takes it: never below 0.
        if o.target_amount is not None and not quantities.non_negative(o.target_amount):
            raise InvalidChange(f"outcomes[{i}].target", f"give {quantities.NON_NEGATIVE}")
        measured_by = catalog.outcomes[o.outcome_key].metric_key
        if o.target_amount is not None and catalog.counts_whole(measured_by):
            _check_whole(f"outcomes[{i}].target", o.target_amount)
    _check_unique("outcomes", outcomes, lambda o: o.outcome_key, "outcome")


def _check_limits(limits: Sequence[TierLimit], catalog: Catalog) -> None:
    for i, lim in enumerate(limits):
        _check_known(f"limits[{i}].metric", lim.metric_key, catalog.metrics, "metric")
        if lim.enforcement not in _ENFORCEMENTS:
            raise InvalidChange(f"limits[{i}].enforcement", "hard, soft or unlimited")
        if lim.enforcement == "unlimited":
            if lim.included is not None:
                raise InvalidChange(f"limits[{i}].included", "an unlimited limit has no amount")
        elif lim.included is None or not quantities.non_negative(lim.included):
            raise InvalidChange(
                f"limits[{i}].included",
                f"a hard or soft limit needs an amount of {quantities.NON_NEGATIVE}",
            )
        elif catalog.counts_whole(lim.metric_key):
            _check_whole(f"limits[{i}].included", lim.included)
    _check_unique("limits", limits, lambda lim: lim.metric_key, "metric")


def _check_whole(field: str, value: float) -> None:
    if not quantities.is_whole(value):
        raise InvalidChange(field, quantities.WHOLE)


def _check_benefits(
    benefits: Sequence[IncludedBenefit], base: TierVersion | None, catalog: Catalog, at: datetime
) -> None:
    had = base.benefit_keys if base else frozenset()
    for i, b in enumerate(benefits):
        _check_known(f"benefits[{i}].benefit", b.benefit_key, catalog.benefits, "benefit")
        # A retired benefit stays where it was (grandfathered), but is never added anew.
        retired = catalog.benefits[b.benefit_key].retired_on
        if (
            b.benefit_key not in had
            and retired is not None
            and retired <= at.astimezone(UTC).date()
        ):
            raise InvalidChange(f"benefits[{i}].benefit", f"{quoted(b.benefit_key)} is retired")
        if not isinstance(b.parameters, dict):
            raise InvalidChange(f"benefits[{i}].parameters", "give a JSON object")
    _check_unique("benefits", benefits, lambda b: b.benefit_key, "benefit")


def _check_exclusions(v: TierVersion, catalog: Catalog) -> None:
    # Only a published tier: the ladder shows the tier an exclusion names, and a tier that
    # is still a draft must not be announced that way.
    tiers = {t.tier_key for t in catalog.versions.values() if t.published_at is not None}
    for i, e in enumerate(v.exclusions):
        _check_known(f"exclusions[{i}].benefit", e.benefit_key, catalog.benefits, "benefit")
        if e.benefit_key in v.benefit_keys:
            raise InvalidChange(
                f"exclusions[{i}].benefit", f"{quoted(e.benefit_key)} is also included"
            )
        if e.included_in_tier_key is not None:
            field = f"exclusions[{i}].includedIn"
            _check_known(field, e.included_in_tier_key, tiers, "published tier")
            if e.included_in_tier_key == v.tier_key:
                raise InvalidChange(field, "name another tier, one that includes it")
        check_text(f"exclusions[{i}].note", e.note, 0, 500)
    _check_unique("exclusions", v.exclusions, lambda e: e.benefit_key, "benefit")
