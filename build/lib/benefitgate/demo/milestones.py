"""The demo milestones: one of each kind, most with a reward from the demo catalog.

They are defined as of the seed's clock, so the scheduler rewards anniversaries and
sustained usage from then on, not retroactively over the generated history.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import asyncpg

from benefitgate.milestones import repository
from benefitgate.milestones.models import Milestone, Reward

__all__ = ["MILESTONES", "insert_milestones"]


def _milestone(key: str, name: str, kind: str, description: str, **rule: object) -> Milestone:
    defaults: dict[str, object] = dict(
        metric_key=None, threshold=None, periods=None, outcome_key=None, repeatable=False,
        reward=None,
    )  # fmt: skip
    return Milestone(
        key=key, name=name, description=description, kind=kind, active=True,
        created_at=datetime.min, version=1, **{**defaults, **rule},  # type: ignore[arg-type]
    )  # fmt: skip


MILESTONES = (
    _milestone("api_power_user", "API power user", "usage_threshold",
               "Two million API calls in one billing period.", metric_key="api_calls",
               threshold=2_000_000, repeatable=True,
               reward=Reward("milestone_credit", 50, 90)),
    _milestone("automation_habit", "Automation habit", "sustained_usage",
               "1,000 automation runs in each of three consecutive periods.",
               metric_key="automation_runs", threshold=1_000, periods=3,
               reward=Reward("beta_program", None, 180)),
    _milestone("first_anniversary", "First anniversary", "renewal_anniversary",
               "One year with us.", periods=1,
               reward=Reward("anniversary_credit", 100, 365)),
    _milestone("third_anniversary", "Third anniversary", "renewal_anniversary",
               "Three years with us.", periods=3,
               reward=Reward("priority_support", None, 90)),
    _milestone("hours_saved_goal", "Hours-saved goal met", "outcome_target",
               "The account's target for admin hours saved is reached.",
               outcome_key="admin_hours_saved", repeatable=True,
               reward=Reward("milestone_credit", 25, 90)),
    _milestone("full_house", "Full house", "seat_utilisation",
               "Nine in ten purchased seats assigned.", threshold=0.9, repeatable=True),
)  # fmt: skip


async def insert_milestones(conn: asyncpg.Connection, now: datetime) -> None:
    for milestone in MILESTONES:
        await repository.create_milestone(conn, replace(milestone, created_at=now))
