"""Where an account stands with the milestones: what it achieved, and its streaks of
sustained usage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

import asyncpg

from benefitgate.milestones import repository
from benefitgate.milestones.models import Achievement, Milestone

__all__ = ["Standing", "standings"]


@dataclass(frozen=True, slots=True)
class Standing:
    milestones: dict[str, Milestone]  # every milestone, inactive ones too, by key
    achievements: tuple[Achievement, ...]  # newest first
    streaks: dict[str, int] = field(default_factory=dict)  # sustained milestone: periods

    def achieved(self, key: str, occurrence: str) -> bool:
        return any(a.milestone_key == key and a.occurrence == occurrence for a in self.achievements)


async def standings(
    conn: asyncpg.Connection, account_ids: Sequence[UUID], now: datetime
) -> dict[UUID, Standing]:
    """In 2 statements, plus one per active sustained-usage milestone."""
    milestones = {m.key: m for m in await repository.active_milestones(conn, inactive=True)}
    achieved: dict[UUID, list[Achievement]] = {a: [] for a in account_ids}
    for a in await repository.achievements_by_accounts(conn, account_ids):
        achieved[a.account_id].append(a)
    streaks: dict[UUID, dict[str, int]] = {a: {} for a in account_ids}
    for m in milestones.values():
        if m.active and m.kind == "sustained_usage":
            assert m.metric_key is not None and m.threshold is not None
            found = await repository.streaks(conn, account_ids, m.metric_key, m.threshold, now)
            for account_id, streak in found.items():
                streaks[account_id][m.key] = streak
    return {a: Standing(milestones, tuple(achieved[a]), streaks[a]) for a in account_ids}
