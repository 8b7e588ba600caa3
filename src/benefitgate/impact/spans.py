"""Which grants of an impact summary's range count, and when. Pure.

A grant counts from its start to its end or revocation. An override counts only while it
is its metric's override in force by the precedence rule (rule 4 of
`entitlements.precedence`): the newest active one; while a newer one is active it is
superseded and counts for nothing (it counts again if that one ends first). An override
superseded when its time in the range ends (the range's end, or its own) is left out,
as the account view leaves it out of `entitlements`: what it set was replaced, so it is
not a benefit of its own (40 overrides of one limit made one after another were listed
as 40 benefits used).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from uuid import UUID

from benefitgate.catalog.models import Benefit
from benefitgate.entitlements.models import Grant

__all__ = ["Span", "counting_spans", "overlaps"]

Span = tuple[datetime, datetime]  # [start, end)


def _own(grant: Grant, start: datetime, end: datetime) -> Span | None:
    """The grant's span within [start, end), before any override supersedes it."""
    ends = [t for t in (grant.valid_until, grant.revoked_at, end) if t is not None]
    span = (max(grant.valid_from, start), min(ends))
    return span if span[0] < span[1] else None


def _minus(spans: list[Span], cut: Span) -> list[Span]:
    kept = []
    for a, b in spans:
        kept += [(a, min(b, cut[0]))] if a < cut[0] else []
        kept += [(max(a, cut[1]), b)] if cut[1] < b else []
    return [(a, b) for a, b in kept if a < b]


def counting_spans(
    grants: Sequence[Grant], benefits: Mapping[str, Benefit], start: datetime, end: datetime
) -> dict[UUID, list[Span]]:
    """The spans within [start, end) in which each grant counted, for the grants that
    count: in the range, and, for an override, not superseded at the end of its time in
    it."""
    own = {g.id: _own(g, start, end) for g in grants}
    # Newest last, as the precedence rule ranks them: by creation, then as listed there
    # (by id).
    overrides = sorted(
        (g for g in grants if g.mode == "override" and _metric(g, benefits) is not None),
        key=lambda g: (g.created_at, g.id),
    )
    rank = {g.id: n for n, g in enumerate(overrides)}
    found: dict[UUID, list[Span]] = {}
    for grant in grants:
        span = own[grant.id]
        spans = [] if span is None else [span]
        if grant.id in rank:
            metric = _metric(grant, benefits)
            for newer in overrides[rank[grant.id] + 1 :]:
                cut = own[newer.id]
                if cut is not None and _metric(newer, benefits) == metric:
                    spans = _minus(spans, cut)
        if span is not None and spans and spans[-1][1] == span[1]:
            found[grant.id] = spans
    return found


def _metric(grant: Grant, benefits: Mapping[str, Benefit]) -> str | None:
    benefit = benefits.get(grant.benefit_key)
    return None if benefit is None or grant.amount is None else benefit.metric_key


def overlaps(period_start: datetime, period_end: datetime | None, spans: Sequence[Span]) -> bool:
    return any(period_start < b and (period_end is None or period_end > a) for a, b in spans)
