"""The demo catalog of a B2B automation platform, and how `benefitgate.seed` writes it.

Outcomes, metrics, four tiers and their benefits. Dates are offsets from the seed's clock,
so the catalog always looks current ("what is new" stays visible); `insert_catalog` writes
them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from benefitgate.catalog import primitives
from benefitgate.catalog.models import Metric, Outcome
from benefitgate.common.changes import ChangeContext

__all__ = [
    "BENEFITS",
    "MEASURES",
    "METRICS",
    "OUTCOMES",
    "TIERS",
    "Benefit",
    "Limit",
    "Metric",
    "Outcome",
    "Tier",
    "insert_catalog",
]


@dataclass(frozen=True, slots=True)
class Limit:
    """A tier's limit on one metric; `typical` is the volume demo accounts are scaled to."""

    enforcement: str
    included: int | None
    typical: int


@dataclass(frozen=True, slots=True)
class Tier:
    key: str
    name: str
    rank: int
    narrative: str
    monthly_cents: int
    annual_cents: int
    support_level: str
    first_response_hours: int
    channels: tuple[str, ...]
    outcome_targets: Mapping[str, int | None]
    limits: Mapping[str, Limit]


@dataclass(frozen=True, slots=True)
class Benefit:
    """A catalog entry; `from_tier` is the lowest tier that includes it (None: add-on only)."""

    key: str
    name: str
    kind: str
    outcome_key: str
    impact: tuple[float, str]
    introduced_days_ago: int
    description: str
    from_tier: str | None = None
    metric_key: str | None = None
    retired_days_ago: int | None = None
    parameters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def _hard(included: int) -> Limit:
    return Limit("hard", included, included)


def _soft(included: int) -> Limit:
    return Limit("soft", included, included)


def _unlimited(typical: int) -> Limit:
    return Limit("unlimited", None, typical)


OUTCOMES = (
    # An admin hour saved, at a loaded hourly rate: what impact summaries price it at.
    Outcome("admin_hours_saved", "Admin hours saved", "hours", "increase",
            "Hours of manual administration removed per month by automation.", "hours_saved",
            7500, "USD"),
    Outcome("time_to_insight", "Time to insight", "days", "decrease",
            "Days from a business question to a trusted answer on a dashboard.",
            "days_to_insight"),
    Outcome("incidents_avoided", "Incidents avoided", "incidents", "increase",
            "Data and workflow incidents caught before they reached customers, per quarter."),
    Outcome("onboarding_time", "Onboarding time", "days", "decrease",
            "Days until a new team runs its first production workflow."),
    Outcome("revenue_influenced", "Revenue influenced", "USD", "increase",
            "Pipeline and revenue touched by automated workflows and embedded analytics."),
    Outcome("audit_prep_time", "Audit preparation time", "hours", "decrease",
            "Hours spent gathering evidence for security and compliance audits."),
)  # fmt: skip

METRICS = (
    Metric("api_calls", "API calls", "calls", "sum", "billing_period"),
    Metric("automation_runs", "Automation runs", "runs", "count", "billing_period"),
    Metric("active_users", "Active users", "users", "max", "calendar_month"),
    Metric("storage_gb", "Storage", "GB", "latest", "never"),
    Metric("integrations", "Connected integrations", "integrations", "latest", "never"),
)

# Metrics that measure outcomes rather than usage against limits: no tier limits them.
MEASURES = (
    Metric("hours_saved", "Admin hours saved", "hours", "sum", "never"),
    Metric("days_to_insight", "Days to insight", "days", "latest", "never"),
)

TIERS = (
    Tier(
        "free", "Free", 0,
        "Automate your first workflows and see your data in one place, free for small "
        "teams getting started.",
        0, 0, "Community", 72, ("community", "docs"),
        {"admin_hours_saved": 2, "onboarding_time": None},
        {"api_calls": _hard(10_000), "automation_runs": _hard(500), "active_users": _hard(3),
         "storage_gb": _hard(1), "integrations": _hard(2)},
    ),
    Tier(
        "team", "Team", 1,
        "For growing teams: schedule reports, connect your tools and stop doing repetitive "
        "admin by hand.",
        4_900, 49_000, "Standard", 24, ("email",),
        {"admin_hours_saved": 10, "time_to_insight": 5, "onboarding_time": 14},
        {"api_calls": _hard(250_000), "automation_runs": _soft(5_000),
         "active_users": _soft(15), "storage_gb": _soft(50), "integrations": _hard(10)},
    ),
    Tier(
        "business", "Business", 2,
        "For departments that run on automation: premium connectors, anomaly alerts and "
        "single sign-on, with priority support that keeps incidents away.",
        24_900, 249_000, "Priority", 8, ("email", "chat"),
        {"admin_hours_saved": 40, "time_to_insight": 2, "incidents_avoided": 4,
         "onboarding_time": 10},
        {"api_calls": _soft(2_000_000), "automation_runs": _soft(50_000),
         "active_users": _soft(100), "storage_gb": _soft(500), "integrations": _soft(50)},
    ),
    Tier(
        "enterprise", "Enterprise", 3,
        "For organisations that need scale, governance and a partner: unlimited API volume, "
        "data residency, a dedicated success manager and one-hour response.",
        99_900, 999_000, "Premium", 1, ("email", "chat", "phone", "slack"),
        {"admin_hours_saved": 120, "time_to_insight": 1, "incidents_avoided": 12,
         "onboarding_time": 30, "revenue_influenced": 250_000, "audit_prep_time": 20},
        {"api_calls": _unlimited(12_000_000), "automation_runs": _soft(500_000),
         "active_users": _unlimited(1_000), "storage_gb": _soft(5_000),
         "integrations": _unlimited(150)},
    ),
)  # fmt: skip


def _per_tier(key: str, free: Any, team: Any, business: Any, enterprise: Any) -> dict[str, Any]:
    """One parameter whose value grows along the ladder; None leaves a tier out."""
    values = {"free": free, "team": team, "business": business, "enterprise": enterprise}
    return {tier: {key: value} for tier, value in values.items() if value is not None}


_FEATURES = (
    Benefit("workflow_builder", "Visual workflow builder", "feature", "admin_hours_saved",
            (2, "hours saved per admin per week"), 1400,
            "Drag-and-drop builder for multi-step automations.", "free",
            parameters=_per_tier("max_steps", 5, 25, 100, 500)),
    Benefit("dashboards", "Self-serve dashboards", "feature", "time_to_insight",
            (3, "days faster to a first answer"), 1400,
            "Build and share dashboards without writing SQL.", "free",
            parameters=_per_tier("history_days", 30, 365, 730, 2555)),
    Benefit("workflow_templates", "Workflow template library", "feature", "onboarding_time",
            (5, "days faster onboarding"), 900,
            "Over 200 ready-made automations for sales, finance and IT.", "free"),
    Benefit("scheduled_reports", "Scheduled reports", "feature", "time_to_insight",
            (1, "day faster per reporting cycle"), 1100,
            "Deliver dashboards by email or chat on a schedule.", "team",
            parameters=_per_tier("schedules", None, 10, 100, 1000)),
    Benefit("webhooks", "Webhooks and custom triggers", "feature", "admin_hours_saved",
            (1, "hour saved per admin per week"), 1000,
            "Start workflows from any system that can send an HTTP request.", "team"),
    Benefit("version_history", "Workflow version history", "feature", "incidents_avoided",
            (1, "incident avoided per quarter"), 700,
            "Compare and restore earlier versions of a workflow.", "team",
            parameters=_per_tier("retention_days", None, 30, 90, 365)),
    Benefit("premium_connectors", "Premium connectors", "feature", "admin_hours_saved",
            (3, "hours saved per admin per week"), 800,
            "Salesforce, SAP, NetSuite and Snowflake connectors maintained by us.", "business"),
    Benefit("anomaly_alerts", "Anomaly alerts", "feature", "incidents_avoided",
            (2, "incidents avoided per quarter"), 500,
            "Alerts when a metric or a workflow leaves its usual range.", "business",
            parameters=_per_tier("channels", None, None, ["email", "slack"],
                                 ["email", "slack", "pagerduty"])),
    Benefit("ai_insights", "AI insight summaries", "feature", "time_to_insight",
            (2, "days faster to insight"), 45,
            "Plain-language summaries of what changed on a dashboard and why.", "business",
            parameters=_per_tier("summaries_per_month", None, None, 200, 2000)),
    Benefit("embedded_analytics", "Embedded analytics", "feature", "revenue_influenced",
            (25_000, "USD influenced per quarter"), 600,
            "Put dashboards inside your own product for your customers.", "enterprise",
            parameters=_per_tier("embeds", None, None, None, 50)),
    Benefit("sandbox_environments", "Sandbox environments", "feature", "incidents_avoided",
            (1, "incident avoided per quarter"), 650,
            "Test workflow changes on a copy before they reach production.", "enterprise",
            parameters=_per_tier("sandboxes", None, None, None, 3)),
    Benefit("legacy_csv_export", "Legacy CSV exporter", "feature", "admin_hours_saved",
            (0.5, "hours saved per admin per week"), 1600,
            "Replaced by scheduled reports.", retired_days_ago=420),
    Benefit("classic_report_designer", "Classic report designer", "feature",
            "time_to_insight", (0.5, "days faster per report"), 1500,
            "Replaced by self-serve dashboards.", retired_days_ago=240),
)  # fmt: skip

_LIMIT_PACKS = (
    Benefit("api_calls_100k", "Extra 100k API calls", "limit", "admin_hours_saved",
            (1, "hour saved per admin per week"), 1200,
            "Adds 100,000 API calls to every billing period.", metric_key="api_calls"),
    Benefit("automation_runs_10k", "Extra 10k automation runs", "limit", "admin_hours_saved",
            (4, "hours saved per month"), 1200,
            "Adds 10,000 automation runs to every billing period.",
            metric_key="automation_runs"),
    Benefit("storage_100gb", "Extra 100 GB storage", "limit", "time_to_insight",
            (0.5, "days faster on historical questions"), 1000,
            "Keeps more history close to your dashboards.", metric_key="storage_gb"),
    Benefit("integrations_10", "Ten more integrations", "limit", "admin_hours_saved",
            (2, "hours saved per admin per week"), 900,
            "Connect ten more systems to your workspace.", metric_key="integrations"),
    Benefit("active_users_10", "Ten more active users", "limit", "onboarding_time",
            (2, "days faster rollout to a new team"), 900,
            "Lets ten more people work in the workspace each month.",
            metric_key="active_users"),
)  # fmt: skip

_SERVICES = (
    Benefit("onboarding_credit", "Onboarding services credit", "credit", "onboarding_time",
            (10, "days faster onboarding"), 900,
            "Credit towards onboarding services by our solutions team.", "business",
            parameters=_per_tier("amount_usd", None, None, 2000, 10000)),
    Benefit("anniversary_credit", "Renewal anniversary credit", "credit",
            "revenue_influenced", (500, "USD of services per anniversary"), 700,
            "A services credit on every renewal anniversary."),
    Benefit("milestone_credit", "Adoption milestone credit", "credit", "admin_hours_saved",
            (5, "hours of expert services"), 400,
            "Expert hours awarded when a team reaches an adoption milestone."),
    Benefit("community_support", "Community forum support", "support", "incidents_avoided",
            (0.2, "incidents avoided per quarter"), 1500,
            "Answers from the community and our staff within three days.", "free"),
    Benefit("email_support", "Email support", "support", "incidents_avoided",
            (0.5, "incidents avoided per quarter"), 1500,
            "Email support with a first response within one business day.", "team"),
    Benefit("priority_support", "Priority support", "support", "incidents_avoided",
            (1, "incident avoided per quarter"), 1200,
            "Chat and email support with a first response within eight hours.", "business",
            parameters=_per_tier("first_response_hours", None, None, 8, 4)),
    Benefit("phone_support_24x7", "24/7 phone and Slack support", "support",
            "incidents_avoided", (2, "incidents avoided per quarter"), 1000,
            "Around-the-clock phone line and a shared Slack channel.", "enterprise"),
    Benefit("dedicated_csm", "Dedicated customer success manager", "support",
            "revenue_influenced", (40_000, "USD influenced per year"), 1000,
            "A named manager who plans adoption and renewals with you.", "enterprise"),
    Benefit("beta_program", "Beta features program", "early_access", "time_to_insight",
            (4, "weeks earlier access to new features"), 800,
            "Try new capabilities before general availability.", "business"),
    Benefit("ai_agent_preview", "AI workflow agent (preview)", "early_access",
            "admin_hours_saved", (4, "hours saved per admin per week"), 60,
            "Describe a workflow in plain language and let the agent build it.",
            "enterprise"),
    Benefit("forecasting_preview", "Predictive forecasting (preview)", "early_access",
            "revenue_influenced", (10_000, "USD influenced per quarter"), 12,
            "Forecast pipeline and usage from your own history."),
    Benefit("academy_courses", "Academy courses", "education", "onboarding_time",
            (3, "days faster onboarding"), 1300,
            "Self-paced courses for builders and admins.", "free"),
    Benefit("live_workshops", "Live onboarding workshops", "education", "onboarding_time",
            (5, "days faster onboarding"), 1000,
            "Instructor-led workshops for new teams.", "team",
            parameters=_per_tier("seats_per_session", None, 5, 20, 50)),
    Benefit("certification_program", "Admin certification program", "education",
            "admin_hours_saved", (2, "hours saved per admin per week"), 75,
            "Certify your admins on workflow design and governance.", "business"),
    Benefit("quarterly_business_review", "Quarterly business reviews", "education",
            "revenue_influenced", (15_000, "USD influenced per quarter"), 800,
            "A quarterly review of outcomes, usage and the plan ahead.", "enterprise"),
)  # fmt: skip

_GOVERNANCE = (
    Benefit("role_based_access", "Role-based access control", "governance",
            "incidents_avoided", (1, "incident avoided per quarter"), 1100,
            "Decide who may build, run and approve workflows.", "team",
            parameters=_per_tier("custom_roles", None, 3, 20, 100)),
    Benefit("audit_log", "Audit log", "governance", "audit_prep_time",
            (6, "hours saved per audit"), 1000,
            "Every change to workflows, access and data, searchable and exportable.", "team",
            parameters=_per_tier("retention_days", None, 90, 365, 2555)),
    Benefit("sso_saml", "SAML single sign-on", "governance", "audit_prep_time",
            (4, "hours saved per audit"), 1200,
            "Sign in through Okta, Entra ID or any SAML provider.", "business"),
    Benefit("approval_workflows", "Change approval workflows", "governance",
            "incidents_avoided", (2, "incidents avoided per quarter"), 20,
            "Require a second pair of eyes before a workflow change goes live.", "business"),
    Benefit("scim_provisioning", "SCIM user provisioning", "governance", "admin_hours_saved",
            (3, "hours saved per admin per month"), 700,
            "Create and remove users automatically from your identity provider.",
            "enterprise"),
    Benefit("data_residency", "EU and US data residency", "governance", "audit_prep_time",
            (10, "hours saved per audit"), 600,
            "Keep data in the region your regulators expect.", "enterprise",
            parameters=_per_tier("regions", None, None, None, ["eu-central", "us-east"])),
)  # fmt: skip

BENEFITS: tuple[Benefit, ...] = _FEATURES + _LIMIT_PACKS + _SERVICES + _GOVERNANCE

# Resellers and CRM / customer-success partners, in order of how many accounts they manage.
PARTNERS = (
    "Summit CRM Partners",
    "Atlas Reseller Group",
    "Bluefin Cloud Consulting",
    "Keystone Customer Success",
    "Meridian Channel Solutions",
)

# Account names are "<first> <second> <number>", e.g. "Northwind Labs 0042".
COMPANY_WORDS = (
    ("Northwind", "Contoso", "Fabrikam", "Tailspin", "Wingtip", "Adatum", "Litware", "Proseware",
     "Lucerne", "Woodgrove", "Alpine", "Coho", "Fourth Coffee", "Margie's", "Humongous",
     "Trey", "Blue Yonder", "Graphic Design", "Wide World", "Southridge", "Relecloud",
     "Bellows", "Consolidated", "Datum", "Lamna", "Nod", "Vanarsdel", "Wayfarer", "Kestrel",
     "Harbor"),
    ("Labs", "Analytics", "Logistics", "Health", "Energy", "Retail", "Insurance", "Media",
     "Systems", "Foods", "Bank", "Studios", "Robotics", "Travel", "Partners"),
)  # fmt: skip

# The published version of every tier took effect this long before the seed's clock.
_PUBLISHED_DAYS_AGO = 200
_EFFECTIVE_AFTER_DAYS = 14


async def insert_catalog(conn: asyncpg.Connection, change: ChangeContext) -> dict[str, int]:
    """Write the whole catalog, one published version per tier; returns version ids by tier.

    Metrics and outcomes are created as `metricCreate` and `outcomeCreate` create them
    (audited, with their events); benefits and tiers are written as rows. Runs in the
    caller's transaction; fails on the first key that already exists.
    """
    now = change.at
    for metric in METRICS + MEASURES:
        await primitives.create_metric(conn, change, metric)
    for outcome in OUTCOMES:
        await primitives.create_outcome(conn, change, outcome)
    await conn.executemany(
        """
        insert into benefits (key, name, kind, description, outcome_key, impact_amount,
                              impact_unit, metric_key, introduced_on, retired_on)
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        """,
        [_benefit_row(benefit, now.date()) for benefit in BENEFITS],
    )
    await conn.executemany(
        "insert into tiers (key, name, rank) values ($1, $2, $3)",
        [(tier.key, tier.name, tier.rank) for tier in TIERS],
    )
    version_ids = {tier.key: await _insert_tier_version(conn, tier, now) for tier in TIERS}
    await _insert_tier_contents(conn, version_ids)
    return version_ids


def _benefit_row(benefit: Benefit, today: date) -> tuple[Any, ...]:
    amount, unit = benefit.impact
    retired = benefit.retired_days_ago
    return (
        benefit.key,
        benefit.name,
        benefit.kind,
        benefit.description,
        benefit.outcome_key,
        Decimal(str(amount)),  # via str: 0.2 stays 0.2, not its binary expansion
        unit,
        benefit.metric_key,
        today - timedelta(days=benefit.introduced_days_ago),
        None if retired is None else today - timedelta(days=retired),
    )


async def _insert_tier_version(conn: asyncpg.Connection, tier: Tier, now: datetime) -> int:
    published_at = datetime.combine(now.date(), time(), tzinfo=UTC) - timedelta(
        days=_PUBLISHED_DAYS_AGO
    )
    version_id: int = await conn.fetchval(
        """
        insert into tier_versions (tier_key, version, value_narrative, currency,
            monthly_price_cents, annual_price_cents, support_level,
            support_first_response_hours, support_channels, effective_from, published_at)
        values ($1, 1, $2, 'USD', $3, $4, $5, $6, $7, $8, $9)
        returning id
        """,
        tier.key,
        tier.narrative,
        tier.monthly_cents,
        tier.annual_cents,
        tier.support_level,
        tier.first_response_hours,
        list(tier.channels),
        published_at + timedelta(days=_EFFECTIVE_AFTER_DAYS),
        published_at,
    )
    return version_id


async def _insert_tier_contents(conn: asyncpg.Connection, version_ids: dict[str, int]) -> None:
    outcomes, limits, included, excluded = _tier_content_rows(version_ids)
    await conn.executemany(
        "insert into tier_outcomes (tier_version_id, outcome_key, target_amount) "
        "values ($1, $2, $3)",
        outcomes,
    )
    await conn.executemany(
        "insert into tier_limits (tier_version_id, metric_key, enforcement, included) "
        "values ($1, $2, $3, $4)",
        limits,
    )
    await conn.executemany(
        "insert into tier_benefits (tier_version_id, benefit_key, parameters) values ($1, $2, $3)",
        included,
    )
    await conn.executemany(
        "insert into tier_exclusions (tier_version_id, benefit_key, included_in_tier_key, note) "
        "values ($1, $2, $3, $4)",
        excluded,
    )


def _tier_content_rows(version_ids: Mapping[str, int]) -> tuple[list[tuple[Any, ...]], ...]:
    """Outcome targets, limits, included benefits and exclusions of every tier version.

    A benefit belongs to every tier from its `from_tier` up and is an exclusion of every
    tier below, naming that lowest tier; retired and add-on-only benefits are neither, so
    no tier both includes and excludes a benefit.
    """
    by_key = {tier.key: tier for tier in TIERS}
    tiered = [b for b in BENEFITS if b.from_tier is not None and b.retired_days_ago is None]
    outcomes, limits, included, excluded = [], [], [], []
    for tier in TIERS:
        vid = version_ids[tier.key]
        outcomes += [(vid, key, target) for key, target in tier.outcome_targets.items()]
        limits += [(vid, key, lim.enforcement, lim.included) for key, lim in tier.limits.items()]
        for benefit in tiered:
            lowest = by_key[str(benefit.from_tier)]
            if lowest.rank <= tier.rank:
                included.append((vid, benefit.key, dict(benefit.parameters.get(tier.key, {}))))
            else:
                note = f"Included from the {lowest.name} tier upward."
                excluded.append((vid, benefit.key, lowest.key, note))
    return outcomes, limits, included, excluded
