"""The demo's glossary: the license's terms as a customer would read them, defined through
the glossary service (each with its audit entry, as actor `seed`)."""

from __future__ import annotations

import asyncpg

from benefitgate.common.changes import ChangeContext
from benefitgate.glossary import service as glossary

__all__ = ["TERMS", "insert_glossary"]

# (key, term, definition, example)
TERMS = (
    ("tier", "Tier",
     "A rung of the license ladder. Each tier is a bundle of outcomes: what it helps you "
     "achieve, the limits it includes, what it leaves out and which higher tier has it.",
     "Business includes 1,000,000 API calls a month; Enterprise includes more."),
    ("outcome", "Outcome",
     "A measurable result you buy the license for, with a unit and a direction: hours "
     "saved should go up, days to insight should go down.",
     "Admin hours saved per week."),
    ("metric", "Metric",
     "A usage quantity we count for your account, such as API calls or active users. Most "
     "start again at zero each billing period or calendar month.",
     "API calls this month: 412,000."),
    ("limit", "Limit",
     "How much of a metric your tier includes in a period. A hard limit stops use at the "
     "limit; a soft limit lets you go past it and says so; unlimited has none.",
     "10 integrations, hard: the eleventh is refused until you add more."),
    ("benefit", "Benefit",
     "Something your license gives you: a feature, more of a limit, a credit, a level of "
     "support, early access, training or governance. Each says which outcome it moves "
     "and by about how much.",
     "Priority support: about one incident avoided per quarter."),
    ("grant", "Grant",
     "A benefit given to your account for a time, from your tier, an add-on, a milestone, "
     "a renewal anniversary, a trial or by our team. Grants are never edited away: each "
     "change is recorded.",
     "A 60-day grant of 24/7 phone support for a go-live."),
    ("entitlement", "Entitlement",
     "What your account may use right now: your tier's benefits together with the grants "
     "in force.",
     ""),
    ("add_on", "Add-on",
     "A benefit bought on its own, beside the tier: more of one limit, or one feature, "
     "without moving to a higher tier.",
     "An extra 100 GB of storage."),
    ("credit", "Credit",
     "An amount your account may spend, such as services hours or money towards "
     "onboarding. Credits come in as grants, go out as they are used, and expire on the "
     "date their grant ends.",
     "5 hours of expert services, valid for 90 days."),
    ("milestone", "Milestone",
     "A reward for sustained adoption, such as a usage level kept for three months. Each "
     "milestone is awarded once.",
     "Ran 10,000 automations: 5 expert hours."),
    ("renewal", "Renewal",
     "The start of your next term. Before it we show the value delivered this term and "
     "what changes at renewal.",
     ""),
    ("grandfathering", "Grandfathering",
     "When the catalog changes, your subscription keeps the tier version it has until it "
     "renews or you move: nothing changes under you mid-term.",
     "A price rise published in March applies to you from your renewal in September."),
    ("seat", "Seat",
     "A place for one named user. You buy a number of seats and assign them to people; "
     "releasing a seat frees it for someone else.",
     ""),
    ("suggestion", "Suggestion",
     "A recommended change of tier, made only from your own usage, with the evidence and "
     "the outcome it would bring.",
     "API calls at 90 % of the limit for three months running."),
    ("impact_summary", "Impact summary",
     "The value report for a quarter or a term: usage trend, milestones, benefits used, "
     "outcomes against targets and the value delivered.",
     ""),
)  # fmt: skip


async def insert_glossary(conn: asyncpg.Connection, change: ChangeContext) -> int:
    """Define the demo's terms in the caller's transaction; returns how many."""
    for key, term, definition, example in TERMS:
        await glossary.set_term(conn, change, key, term, definition, example)
    return len(TERMS)
