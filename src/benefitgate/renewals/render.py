"""A renewal note as a mailer sends it: plain text and Markdown from one list of sections,
and the JSON a `renewal.reminder` event carries. Pure.

Names come from the vendor's catalog and the account: Markdown escapes them, so that a
name with `*` or `[` shows as written instead of turning into markup. A name may also hold
line breaks (the catalog and provisioning take any text), which would let it start lines
of its own (a heading, a code block, a fake notice) in both renderings: every line of the
note is made one line (`one_line`: runs of whitespace, line breaks of every kind included,
become one space) before either renders it.
"""

from __future__ import annotations

import re
from typing import Any

from benefitgate.adoption.models import BenefitAdoption
from benefitgate.common.quantities import figure
from benefitgate.common.text import counted
from benefitgate.renewals.models import Money, RenewalNote

__all__ = ["markdown", "one_line", "payload", "sections", "text", "title"]

Section = tuple[str, list[str]]

# Inline markup only: every line is a heading's text or a list item's, so what begins a
# block (`#`, `-`, digits) cannot act there; a bracket escaped cannot open a link.
_MARKUP = re.compile(r"([\\`*_\[\]<>|~])")


def one_line(value: str) -> str:
    # str.split() splits at every Unicode line break (\r, \v, \f, \x1c-\x1e, \x85, \u2028,
    # \u2029) as well as at spaces and tabs.
    return " ".join(value.split())


def title(note: RenewalNote) -> str:
    day = note.renews_at.date().isoformat()
    return one_line(f"{note.account_name}: your {note.tier_name} plan renews on {day}")


def sections(note: RenewalNote) -> list[Section]:
    found = (_value(note), _outcomes(note), _benefits(note), _renewal(note))
    return [(name, [one_line(line) for line in lines]) for name, lines in found if lines]


def _value(note: RenewalNote) -> Section:
    s = note.summary
    lines = [f"This term so far: {s.range.start.isoformat()} to {s.range.end.isoformat()}."]
    if s.value_cents is not None and s.currency is not None:
        lines.append(f"Estimated value delivered: {Money(s.value_cents, s.currency)}.")
    for m in s.metrics:
        of_limit = (
            ""
            if m.peak_percent is None
            else f" (fullest period {figure(m.peak_percent)}% of limit)"
        )
        lines.append(f"{m.metric.name}: {figure(m.value)} {m.metric.unit}{of_limit}.")
    lines += [
        f"Milestone reached: {a.name} ({a.achieved_at.date().isoformat()})." for a in s.achieved
    ]
    return "Value delivered", lines


def _outcomes(note: RenewalNote) -> Section:
    lines = []
    for o in note.summary.outcomes:
        unit = o.outcome.unit
        got = "not measured" if o.delivered is None else f"{figure(o.delivered)} {unit}"
        if o.target is None:
            lines.append(f"{o.outcome.name}: {got}.")
            continue
        state = "met" if o.met else "not met yet"
        share = "" if o.percent is None else f", {figure(o.percent)}%"
        lines.append(
            f"{o.outcome.name}: {got} against a target of {figure(o.target.target)} {unit} "
            f"({state}{share})."
        )
    return "Outcomes against targets", lines


def _moves(b: BenefitAdoption) -> str:
    if b.benefit.impact_amount is None:
        return ""
    unit = f" {b.benefit.impact_unit}" if b.benefit.impact_unit else ""
    return f" (it moves {figure(b.benefit.impact_amount)}{unit})"


def _benefits(note: RenewalNote) -> Section:
    lines = [
        f"Used: {b.benefit.name}, last on {b.last_used_at.date().isoformat()}."
        for b in note.used
        if b.last_used_at is not None
    ]
    lines += [f"Not used yet this term: {b.benefit.name}{_moves(b)}." for b in note.unused]
    return "Benefits used and unused", lines


def _renewal(note: RenewalNote) -> Section:
    lines = [
        f"Renews on {note.renews_at.date().isoformat()} ({counted(note.days_left, 'day')} left) as "
        f"{note.next_tier_name}, {note.term}, at {note.next_price} per term "
        f"(now {note.price}).",
        *note.changes,
    ]
    s = note.suggestion
    if s is not None:
        tier = note.tier_names.get(s.tier_key, s.tier_key)
        delta = Money(s.monthly_delta_cents, s.currency)
        lines.append(f"Suggested: {tier} ({delta} more per month, confidence {s.confidence:.0%}).")
        lines += [f"Why: {r.message}." for r in s.reasons]
    return "At the renewal", lines


def text(note: RenewalNote) -> str:
    heading = title(note)
    out = [heading, "=" * len(heading)]
    for name, lines in sections(note):
        out += ["", name, "-" * len(name), *(f"- {line}" for line in lines)]
    return "\n".join(out) + "\n"


def _escape(value: str) -> str:
    return _MARKUP.sub(r"\\\1", value)


def markdown(note: RenewalNote) -> str:
    out = [f"# {_escape(title(note))}"]
    for name, lines in sections(note):
        out += ["", f"## {_escape(name)}", "", *(f"- {_escape(line)}" for line in lines)]
    return "\n".join(out) + "\n"


def payload(note: RenewalNote) -> dict[str, Any]:
    """What a `renewal.reminder` event adds to its dates: the note's figures, and the note
    rendered."""
    s = note.summary
    return {
        "termFrom": s.range.start.isoformat(),
        "termTo": s.range.end.isoformat(),
        "valueDelivered": None
        if s.value_cents is None or s.currency is None
        else Money(s.value_cents, s.currency).json(),
        "outcomes": [
            {
                "outcome": o.outcome.key,
                "delivered": o.delivered,
                "target": None if o.target is None else o.target.target,
                "percent": o.percent,
                "met": o.met,
            }
            for o in s.outcomes
        ],
        "benefitsUsed": [b.benefit.key for b in note.used],
        "benefitsUnused": [b.benefit.key for b in note.unused],
        "changes": list(note.changes),
        "nextTier": note.next_tier_name,
        "nextPrice": note.next_price.json(),
        "suggestion": None
        if note.suggestion is None
        else {
            "id": str(note.suggestion.id),
            "tier": note.suggestion.tier_key,
            "confidence": note.suggestion.confidence,
            "reasons": [r.message for r in note.suggestion.reasons],
        },
        "text": text(note),
        "markdown": markdown(note),
    }
