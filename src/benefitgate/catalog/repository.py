"""Every SQL statement of the catalog. Returns models, never records."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Literal

import asyncpg
import orjson

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

__all__ = [
    "Claim",
    "claim_tier",
    "delete_draft",
    "drop_unused_tier",
    "insert_benefit",
    "insert_metric",
    "insert_outcome",
    "insert_version",
    "load_catalog",
    "lock_benefit",
    "lock_metric",
    "lock_tier",
    "metric_counted",
    "publish",
    "read_catalog",
    "retire_benefit",
    "set_outcome_value",
    "tier_of_version",
    "tier_versions",
    "update_metric",
]

Claim = Literal["claimed", "exists", "rank_taken"]

_BENEFIT_COLUMNS = """key, name, kind, description, outcome_key, impact_amount, impact_unit,
                      metric_key, introduced_on, retired_on, version"""

# Which tier versions a read covers: all ($1 and $2 null), some ids, or one tier's.
_VERSION_FILTER = (
    "($1::bigint[] is null or v.id = any($1)) and ($2::text is null or v.tier_key = $2)"
)


def _num(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


_OUTCOME_COLUMNS = """key, name, unit, direction, description, metric_key,
                      value_per_unit_cents, value_currency"""


async def _outcomes(conn: asyncpg.Connection) -> dict[str, Outcome]:
    rows = await conn.fetch(f"select {_OUTCOME_COLUMNS} from outcomes")  # noqa: S608 (constant)
    return {r["key"]: Outcome(**dict(r)) for r in rows}


async def _metrics(conn: asyncpg.Connection) -> dict[str, Metric]:
    rows = await conn.fetch(f"select {_METRIC_COLUMNS} from metrics")  # noqa: S608 (constant)
    return {r["key"]: _metric(r) for r in rows}


_METRIC_COLUMNS = "key, name, unit, aggregation, reset, group_by, unique_property"


def _metric(row: asyncpg.Record) -> Metric:
    return Metric(**{**dict(row), "group_by": tuple(row["group_by"])})


def _benefit(row: asyncpg.Record) -> Benefit:
    return Benefit(**{**dict(row), "impact_amount": _num(row["impact_amount"])})


async def _benefits(conn: asyncpg.Connection) -> dict[str, Benefit]:
    rows = await conn.fetch(
        f"select {_BENEFIT_COLUMNS} from benefits order by introduced_on, key"  # noqa: S608 (constant columns)
    )
    return {r["key"]: _benefit(r) for r in rows}


async def _grouped(
    conn: asyncpg.Connection, table: str, order: str, where: tuple[list[int] | None, str | None]
) -> dict[int, list[asyncpg.Record]]:
    """Rows of a per-tier-version table, grouped by tier version id."""
    grouped: dict[int, list[asyncpg.Record]] = defaultdict(list)
    sql = f"""
        select p.* from {table} p join tier_versions v on v.id = p.tier_version_id
        where {_VERSION_FILTER} order by p.{order}
    """  # noqa: S608 (table and column names are constants of this module, never input)
    for row in await conn.fetch(sql, *where):
        grouped[row["tier_version_id"]].append(row)
    return grouped


async def _tier_parts(
    conn: asyncpg.Connection, where: tuple[list[int] | None, str | None]
) -> dict[int, dict[str, tuple[object, ...]]]:
    outcomes = await _grouped(conn, "tier_outcomes", "outcome_key", where)
    limits = await _grouped(conn, "tier_limits", "metric_key", where)
    included = await _grouped(conn, "tier_benefits", "benefit_key", where)
    excluded = await _grouped(conn, "tier_exclusions", "benefit_key", where)
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


async def tier_versions(
    conn: asyncpg.Connection, *, ids: Sequence[int] | None = None, tier_key: str | None = None
) -> dict[int, TierVersion]:
    """Tier versions with their parts: all of them, those with `ids`, or one tier's."""
    where = (None if ids is None else list(ids), tier_key)
    parts = await _tier_parts(conn, where)
    rows = await conn.fetch(
        f"""
        select v.id, v.tier_key, t.name, t.rank, v.version, v.value_narrative, v.currency,
               v.monthly_price_cents, v.annual_price_cents, v.support_level,
               v.support_first_response_hours, v.support_channels, v.effective_from,
               v.published_at
        from tier_versions v join tiers t on t.key = v.tier_key
        where {_VERSION_FILTER}
        """,  # noqa: S608 (a constant filter, no input)
        *where,
    )
    return {
        r["id"]: TierVersion(
            **{**dict(r), "support_channels": tuple(r["support_channels"])},
            **parts.get(r["id"], {}),  # type: ignore[arg-type]
        )
        for r in rows
    }


async def read_catalog(conn: asyncpg.Connection) -> Catalog:
    """The whole catalog, in the caller's transaction (a change reads what it locked)."""
    return Catalog(
        outcomes=await _outcomes(conn),
        metrics=await _metrics(conn),
        benefits=await _benefits(conn),
        versions=await tier_versions(conn),
    )


async def load_catalog(conn: asyncpg.Connection) -> Catalog:
    """The whole catalog in one repeatable-read snapshot, so its parts agree."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        return await read_catalog(conn)


async def claim_tier(conn: asyncpg.Connection, key: str, name: str, rank: int) -> Claim:
    """Create the tier, or rename and re-rank it while it has no version at all (its only
    draft was discarded). `exists`: it has versions; `rank_taken`: another tier holds the
    rank, and the caller's transaction is aborted."""
    try:
        claimed = await conn.fetchval(
            """
            insert into tiers (key, name, rank) values ($1, $2, $3)
            on conflict (key) do update set name = excluded.name, rank = excluded.rank
                where not exists (select 1 from tier_versions v where v.tier_key = excluded.key)
            returning key
            """,
            key,
            name,
            rank,
        )
    except asyncpg.UniqueViolationError:
        return "rank_taken"
    return "exists" if claimed is None else "claimed"


async def lock_tier(conn: asyncpg.Connection, key: str) -> bool:
    """Lock the tier until the end of the caller's transaction: every change to a tier's
    versions takes this lock first, so they happen one at a time. False: no such tier."""
    found = await conn.fetchval("select true from tiers where key = $1 for update", key)
    return bool(found)


async def tier_of_version(conn: asyncpg.Connection, version_id: int) -> str | None:
    key: str | None = await conn.fetchval(
        "select tier_key from tier_versions where id = $1", version_id
    )
    return key


def _json(values: Sequence[object]) -> list[str]:
    return [orjson.dumps(v).decode() for v in values]


async def insert_version(conn: asyncpg.Connection, v: TierVersion) -> int:
    """Write a version and its parts, set-wise; returns its id."""
    version_id: int = await conn.fetchval(
        """
        insert into tier_versions (tier_key, version, value_narrative, currency,
            monthly_price_cents, annual_price_cents, support_level,
            support_first_response_hours, support_channels, effective_from, published_at)
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        returning id
        """,
        v.tier_key,
        v.version,
        v.value_narrative,
        v.currency,
        v.monthly_price_cents,
        v.annual_price_cents,
        v.support_level,
        v.support_first_response_hours,
        list(v.support_channels),
        v.effective_from,
        v.published_at,
    )
    await conn.execute(
        """insert into tier_outcomes (tier_version_id, outcome_key, target_amount)
           select $1, * from unnest($2::text[], $3::numeric[])""",
        version_id,
        [o.outcome_key for o in v.outcomes],
        [o.target_amount for o in v.outcomes],
    )
    await conn.execute(
        """insert into tier_limits (tier_version_id, metric_key, enforcement, included)
           select $1, * from unnest($2::text[], $3::text[], $4::numeric[])""",
        version_id,
        [lim.metric_key for lim in v.limits],
        [lim.enforcement for lim in v.limits],
        [lim.included for lim in v.limits],
    )
    await conn.execute(
        """insert into tier_benefits (tier_version_id, benefit_key, parameters)
           select $1, b, p::jsonb from unnest($2::text[], $3::text[]) as t(b, p)""",
        version_id,
        [b.benefit_key for b in v.benefits],
        _json([b.parameters for b in v.benefits]),
    )
    await conn.execute(
        """insert into tier_exclusions (tier_version_id, benefit_key, included_in_tier_key, note)
           select $1, * from unnest($2::text[], $3::text[], $4::text[])""",
        version_id,
        [e.benefit_key for e in v.exclusions],
        [e.included_in_tier_key for e in v.exclusions],
        [e.note for e in v.exclusions],
    )
    return version_id


async def publish(
    conn: asyncpg.Connection, version_id: int, at: datetime, effective_from: datetime
) -> bool:
    """Publish a draft; False when it is not a draft (any more)."""
    status = await conn.execute(
        """
        update tier_versions set published_at = $2, effective_from = $3
        where id = $1 and published_at is null
        """,
        version_id,
        at,
        effective_from,
    )
    return bool(status == "UPDATE 1")


async def delete_draft(conn: asyncpg.Connection, version_id: int) -> bool:
    """Delete a draft and its parts in one statement; False when it is not a draft."""
    deleted = await conn.fetchval(
        """
        with draft as (
                 select id from tier_versions where id = $1 and published_at is null),
             o as (delete from tier_outcomes where tier_version_id in (select id from draft)),
             l as (delete from tier_limits where tier_version_id in (select id from draft)),
             b as (delete from tier_benefits where tier_version_id in (select id from draft)),
             e as (delete from tier_exclusions where tier_version_id in (select id from draft))
        delete from tier_versions where id in (select id from draft) returning id
        """,
        version_id,
    )
    return deleted is not None


async def drop_unused_tier(conn: asyncpg.Connection, key: str) -> None:
    """Delete a tier left without versions, unless an exclusion still names it."""
    await conn.execute(
        """
        delete from tiers t where t.key = $1
          and not exists (select 1 from tier_versions v where v.tier_key = t.key)
          and not exists (select 1 from tier_exclusions e where e.included_in_tier_key = t.key)
        """,
        key,
    )


async def insert_benefit(conn: asyncpg.Connection, b: Benefit) -> Benefit | None:
    """Add a catalog entry; None when its key is taken."""
    row = await conn.fetchrow(
        f"""
        insert into benefits (key, name, kind, description, outcome_key, impact_amount,
                              impact_unit, metric_key, introduced_on, retired_on)
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        on conflict (key) do nothing
        returning {_BENEFIT_COLUMNS}
        """,  # noqa: S608 (a constant column list, no input)
        b.key,
        b.name,
        b.kind,
        b.description,
        b.outcome_key,
        b.impact_amount,
        b.impact_unit,
        b.metric_key,
        b.introduced_on,
        b.retired_on,
    )
    return None if row is None else _benefit(row)


async def lock_benefit(conn: asyncpg.Connection, key: str) -> Benefit | None:
    row = await conn.fetchrow(
        f"select {_BENEFIT_COLUMNS} from benefits where key = $1 for update",  # noqa: S608
        key,
    )
    return None if row is None else _benefit(row)


async def retire_benefit(conn: asyncpg.Connection, key: str, retired_on: date) -> Benefit:
    """Set the retirement date and bump the version; the caller holds the row lock."""
    row = await conn.fetchrow(
        f"""
        update benefits set retired_on = $2, version = version + 1 where key = $1
        returning {_BENEFIT_COLUMNS}
        """,  # noqa: S608 (a constant column list, no input)
        key,
        retired_on,
    )
    return _benefit(row)


async def set_outcome_value(
    conn: asyncpg.Connection, key: str, cents: int | None, currency: str | None
) -> tuple[Outcome, Outcome] | None:
    """(before, after) of the outcome's value per unit; None for an unknown outcome."""
    before = await conn.fetchrow(
        f"select {_OUTCOME_COLUMNS} from outcomes where key = $1 for update",  # noqa: S608
        key,
    )
    if before is None:
        return None
    await conn.execute(
        "update outcomes set value_per_unit_cents = $2, value_currency = $3 where key = $1",
        key,
        cents,
        currency,
    )
    old = Outcome(**dict(before))
    return old, replace(old, value_per_unit_cents=cents, value_currency=currency)


async def insert_metric(conn: asyncpg.Connection, m: Metric) -> bool:
    """False when the key is taken."""
    inserted = await conn.fetchval(
        """insert into metrics (key, name, unit, aggregation, reset, group_by, unique_property)
           values ($1, $2, $3, $4, $5, $6, $7) on conflict (key) do nothing returning true""",
        m.key, m.name, m.unit, m.aggregation, m.reset, list(m.group_by), m.unique_property,
    )  # fmt: skip
    return bool(inserted)


async def lock_metric(conn: asyncpg.Connection, key: str) -> Metric | None:
    row = await conn.fetchrow(
        f"select {_METRIC_COLUMNS} from metrics where key = $1 for update",  # noqa: S608
        key,
    )
    return None if row is None else _metric(row)


async def metric_counted(conn: asyncpg.Connection, key: str) -> bool:
    """Whether any usage of the metric was counted (a counter row exists)."""
    counted = await conn.fetchval(
        "select exists (select 1 from usage_counters where metric_key = $1)", key
    )
    return bool(counted)


async def update_metric(conn: asyncpg.Connection, m: Metric) -> None:
    await conn.execute(
        """update metrics set name = $2, unit = $3, aggregation = $4, reset = $5, group_by = $6,
                  unique_property = $7
           where key = $1""",
        m.key, m.name, m.unit, m.aggregation, m.reset, list(m.group_by), m.unique_property,
    )  # fmt: skip


async def insert_outcome(conn: asyncpg.Connection, o: Outcome) -> bool:
    """False when the key is taken; a ForeignKeyViolationError for an unknown metric."""
    inserted = await conn.fetchval(
        """insert into outcomes (key, name, unit, direction, description, metric_key,
               value_per_unit_cents, value_currency)
           values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict (key) do nothing returning true""",
        o.key, o.name, o.unit, o.direction, o.description, o.metric_key,
        o.value_per_unit_cents, o.value_currency,
    )  # fmt: skip
    return bool(inserted)
