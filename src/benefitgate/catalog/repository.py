"""Every SQL statement of the catalog. Returns models, never records."""

from __future__ import annotations

from collections import defaultdict

import asyncpg

from benefitgate.catalog.models import (
    Benefit,
    Catalog,
    Exclusion,
    IncludedBenefit,
    Metric,
    Outcome,
    TierLimit,
    TierOutcome,
    TierVersion,
)

__all__ = ["load_catalog"]


def _num(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


async def _outcomes(conn: asyncpg.Connection) -> dict[str, Outcome]:
    rows = await conn.fetch(
        "select key, name, unit, direction, description, metric_key from outcomes"
    )
    return {r["key"]: Outcome(**dict(r)) for r in rows}


async def _metrics(conn: asyncpg.Connection) -> dict[str, Metric]:
    rows = await conn.fetch("select key, name, unit, aggregation, reset from metrics")
    return {r["key"]: Metric(**dict(r)) for r in rows}


async def _benefits(conn: asyncpg.Connection) -> dict[str, Benefit]:
    rows = await conn.fetch(
        """
        select key, name, kind, description, outcome_key, impact_amount, impact_unit,
               metric_key, introduced_on, retired_on
        from benefits order by introduced_on, key
        """
    )
    return {
        r["key"]: Benefit(**{**dict(r), "impact_amount": _num(r["impact_amount"])}) for r in rows
    }


async def _grouped(conn: asyncpg.Connection, sql: str) -> dict[int, list[asyncpg.Record]]:
    """Rows of a per-tier-version table, grouped by tier version id."""
    grouped: dict[int, list[asyncpg.Record]] = defaultdict(list)
    for row in await conn.fetch(sql):
        grouped[row["tier_version_id"]].append(row)
    return grouped


async def _tier_parts(conn: asyncpg.Connection) -> dict[int, dict[str, tuple[object, ...]]]:
    outcomes = await _grouped(conn, "select * from tier_outcomes order by outcome_key")
    limits = await _grouped(conn, "select * from tier_limits order by metric_key")
    included = await _grouped(conn, "select * from tier_benefits order by benefit_key")
    excluded = await _grouped(conn, "select * from tier_exclusions order by benefit_key")
    ids = set(outcomes) | set(limits) | set(included) | set(excluded)
    return {
        vid: {
            "outcomes": tuple(
                TierOutcome(r["outcome_key"], _num(r["target_amount"])) for r in outcomes[vid]
            ),
            "limits": tuple(
                TierLimit(r["metric_key"], r["enforcement"], _num(r["included"]))
                for r in limits[vid]
            ),
            "benefits": tuple(
                IncludedBenefit(r["benefit_key"], r["parameters"]) for r in included[vid]
            ),
            "exclusions": tuple(
                Exclusion(r["benefit_key"], r["included_in_tier_key"], r["note"])
                for r in excluded[vid]
            ),
        }
        for vid in ids
    }


async def _versions(conn: asyncpg.Connection) -> dict[int, TierVersion]:
    parts = await _tier_parts(conn)
    rows = await conn.fetch(
        """
        select v.id, v.tier_key, t.name, t.rank, v.version, v.value_narrative, v.currency,
               v.monthly_price_cents, v.annual_price_cents, v.support_level,
               v.support_first_response_hours, v.support_channels, v.effective_from,
               v.published_at
        from tier_versions v join tiers t on t.key = v.tier_key
        """
    )
    return {
        r["id"]: TierVersion(
            **{**dict(r), "support_channels": tuple(r["support_channels"])},
            **parts.get(r["id"], {}),  # type: ignore[arg-type]
        )
        for r in rows
    }


async def load_catalog(conn: asyncpg.Connection) -> Catalog:
    """The whole catalog in one repeatable-read snapshot, so its parts agree."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        return Catalog(
            outcomes=await _outcomes(conn),
            metrics=await _metrics(conn),
            benefits=await _benefits(conn),
            versions=await _versions(conn),
        )
